//! Generates the prost messages and the tonic client/server of `compositor.proto`, plus the
//! encoded file descriptor set that server reflection serves.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    tonic_prost_build::configure()
        .type_attribute(".compositor.v1", "#[derive(serde::Serialize)]")
        .file_descriptor_set_path(out.join("compositor_v1_descriptor.bin"))
        .compile_protos(&["compositor.proto"], &["."])?;
    println!("cargo:rerun-if-changed=compositor.proto");
    Ok(())
}
