//! DevStats render.
