//! PersistentVolumeClaims: one per project (`devstats-pvc-{proj}`, git clones for provisioning and
//! the sync jobs) and the shared backups volume (`devstats-backups`).

use std::collections::BTreeMap;

use devstats_model::{AccessMode, Project};
use k8s_openapi::api::core::v1::{
    PersistentVolumeClaim, PersistentVolumeClaimSpec, VolumeResourceRequirements,
};

use crate::core::common::{chart_labels, names};
use crate::core::{ctx::Ctx, object::Object};

fn spec(class: &str, mode: AccessMode, size: &str) -> PersistentVolumeClaimSpec {
    PersistentVolumeClaimSpec {
        access_modes: Some(vec![mode.as_str().to_owned()]),
        storage_class_name: Some(class.to_owned()),
        resources: Some(VolumeResourceRequirements {
            requests: Some(BTreeMap::from([(
                "storage".to_owned(),
                crate::core::quantity::quantity(size),
            )])),
            ..VolumeResourceRequirements::default()
        }),
        ..PersistentVolumeClaimSpec::default()
    }
}

/// The project's volume claim.
#[must_use]
pub(crate) fn project_pvc(ctx: &Ctx<'_>, p: &Project) -> Object {
    let st = &ctx.model.instance.storage;
    let name = names::project_pvc(p.name.as_str());
    Object::from(PersistentVolumeClaim {
        metadata: ctx.meta(name, "volume", chart_labels("pvc", Some(p.name.as_str()))),
        spec: Some(spec(&st.class_name, st.access_mode, p.disk.as_str())),
        ..PersistentVolumeClaim::default()
    })
}

/// The shared backups volume claim.
#[must_use]
pub(crate) fn backups_pvc(ctx: &Ctx<'_>) -> Object {
    let b = &ctx.model.instance.storage.backups;
    Object::from(PersistentVolumeClaim {
        metadata: ctx.meta(
            names::BACKUPS_PVC,
            "backups-volume",
            chart_labels("pvc", Some("backups")),
        ),
        spec: Some(spec(&b.class_name, b.access_mode, b.size.as_str())),
        ..PersistentVolumeClaim::default()
    })
}
