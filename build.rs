//! Compiles every `.proto` under `proto/` with tonic/prost, using a vendored `protoc` so no system install is needed.
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protoc = protoc_bin_vendored::protoc_bin_path()?;
    std::env::set_var("PROTOC", protoc);
    let protos = ["proto/forgebench/v1/types.proto", "proto/cluster.proto"];
    for p in &protos {
        println!("cargo:rerun-if-changed={p}");
    }
    println!("cargo:rerun-if-changed=proto/forgebench/v1");
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        // Artifact chunks decode as slices of the received buffer instead of fresh copies.
        .bytes(".forgebench.v1.ArtifactChunk.data")
        .compile_protos(&protos, &["proto"])?;
    Ok(())
}
