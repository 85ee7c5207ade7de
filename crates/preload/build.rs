//! Links the preload so that a reachable panic is a build failure (see src/lib.rs): the panic
//! handler calls a symbol that does not exist, and `--no-undefined` refuses to leave it for the
//! loader. The release profile is the one where panics abort and the library is `no_std`: the
//! build users and CI run (`cargo build --release`, scripts/install.sh, `cargo deb`). `cargo
//! test` builds the library with std (its harnesses unwind), which has no such handler.
fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    if std::env::var("PROFILE").as_deref() == Ok("release") {
        println!("cargo:rustc-cdylib-link-arg=-Wl,--no-undefined");
        println!("cargo:rustc-cdylib-link-arg=-nostartfiles");
    }
}
