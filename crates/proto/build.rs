//! Compiles the protobuf definitions with protox (pure Rust), so no `protoc` is needed.
fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto");
    let fds = protox::compile(["proto/baton.proto"], ["proto"])?;
    // A sql task's connection holds a data source's password: its Debug (in `lib.rs`) hides it.
    tonic_prost_build::configure()
        .skip_debug([".baton.v1.SqlConnection"])
        .compile_fds(fds)?;
    Ok(())
}
