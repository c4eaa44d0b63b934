//! Builds this crate again when the UI's build output changes, so that a release build
//! embeds the UI built since (rust-embed reads `ui/dist` when this crate compiles). Before
//! the first UI build there is no `ui/dist`: then a change under `ui/` (its appearing)
//! is what counts.

fn main() {
    let dist = std::path::Path::new("../../ui/dist");
    if dist.is_dir() {
        println!("cargo:rerun-if-changed=../../ui/dist");
    } else {
        println!("cargo:rerun-if-changed=../../ui");
    }
}
