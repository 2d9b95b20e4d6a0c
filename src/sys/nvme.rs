//! NVMe ioctls (admin passthrough for Identify, namespace id).
