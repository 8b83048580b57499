//! Embeds `images/` into the library so the `fencepost` binary can build its
//! images from anywhere, with no checkout beside it. Adding a system's folder
//! is enough: every file under `images/` is picked up.

use std::fmt::Write as _;
use std::path::Path;
use std::{env, fs};

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("images");
    println!("cargo:rerun-if-changed={}", root.display());
    let mut files = Vec::new();
    walk(&root, &root, &mut files);
    files.sort();
    let mut out = String::from("pub(crate) static IMAGE_FILES: &[EmbeddedFile] = &[\n");
    for (rel, abs, executable) in &files {
        println!("cargo:rerun-if-changed={abs}");
        writeln!(
            out,
            "    EmbeddedFile {{ path: {rel:?}, contents: include_bytes!({abs:?}), executable: {executable} }},"
        )
        .unwrap();
    }
    out.push_str("];\n");
    fs::write(Path::new(&env::var("OUT_DIR").unwrap()).join("image_files.rs"), out).unwrap();
}

fn walk(root: &Path, dir: &Path, files: &mut Vec<(String, String, bool)>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            println!("cargo:rerun-if-changed={}", path.display());
            walk(root, &path, files);
        } else {
            use std::os::unix::fs::PermissionsExt;
            let executable = fs::metadata(&path).unwrap().permissions().mode() & 0o111 != 0;
            let rel = path.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            files.push((rel, path.to_string_lossy().into_owned(), executable));
        }
    }
}
