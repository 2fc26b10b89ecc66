//! Local images for the docker runtime, for machines with an engine but no
//! registry: each holds exactly the host files a node runs (the provisioned
//! binary, or Java and ZooKeeper's jars), at the same paths, plus the shared
//! libraries they load, imported (the engine's `images/create` from a source,
//! as `docker import` does) from a tar of those files. Same paths as on the host
//! means the same command line on both runtimes.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use bollard::query_parameters::{CreateImageOptions, ListImagesOptions, RemoveImageOptions};
use futures_util::TryStreamExt;

use super::{call, has_image};

/// The runner image: only the libraries our own binary loads (the binary is
/// bind-mounted, so a rebuilt splitbrain needs no new image).
pub const RUNNER: &str = "splitbrain/runner:1";

/// Adds `path` and, for a symlink, what it points to (recursively); directories
/// are walked. `seen` stops loops.
fn add(path: &Path, out: &mut BTreeSet<PathBuf>) -> Result<(), String> {
    if !path.is_absolute() {
        return Ok(());
    }
    // the real parent: a path through a linked directory (/lib on merged-/usr
    // hosts) would land as a real directory in the image, beside the link
    let path = &match (path.parent(), path.file_name()) {
        (Some(parent), Some(name)) => std::fs::canonicalize(parent)
            .map_err(|e| format!("{}: {e}", parent.display()))?
            .join(name),
        _ => path.to_path_buf(),
    };
    if !out.insert(path.to_path_buf()) {
        return Ok(());
    }
    let meta = std::fs::symlink_metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if meta.file_type().is_symlink() {
        let link = std::fs::read_link(path).map_err(|e| format!("{}: {e}", path.display()))?;
        // resolved from the real parent, so that `..` in the link means what the kernel takes it to
        let parent = std::fs::canonicalize(path.parent().unwrap_or(Path::new("/"))).map_err(|e| e.to_string())?;
        let target = normalize(&parent.join(link));
        if target.exists() {
            add(&target, out)?;
        }
    } else if meta.is_dir() {
        for entry in std::fs::read_dir(path).map_err(|e| format!("{}: {e}", path.display()))? {
            add(&entry.map_err(|e| e.to_string())?.path(), out)?;
        }
    }
    Ok(())
}

/// `path` with `.` and `..` taken out, lexically (its prefix has no links).
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    for c in path.components() {
        match c {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::Normal(n) => out.push(n),
            _ => {}
        }
    }
    out
}

/// Whether a file is an ELF object (a program or a shared library).
fn is_elf(path: &Path) -> bool {
    let mut head = [0u8; 4];
    std::fs::File::open(path)
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut head))
        .is_ok()
        && head == *b"\x7fELF"
}

/// The libraries `ldd` says an ELF file loads (absolute paths), interpreter included.
fn libraries(path: &Path) -> Vec<PathBuf> {
    let Ok(out) = Command::new("ldd").arg(path).output() else {
        return Vec::new();
    };
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .filter(|w| w.starts_with('/'))
        .map(PathBuf::from)
        .collect()
}

/// Every file the image needs: `roots`, what they link to, and their libraries.
fn closure(roots: &[PathBuf]) -> Result<BTreeSet<PathBuf>, String> {
    let mut files = BTreeSet::new();
    // merged-/usr links, so that fixed paths such as the ELF interpreter's resolve
    for top in ["/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"] {
        if std::fs::symlink_metadata(top).is_ok_and(|m| m.file_type().is_symlink()) {
            // the link alone: its target directory comes in only as far as files need it
            files.insert(PathBuf::from(top));
        }
    }
    for r in roots {
        add(r, &mut files)?;
    }
    let elves: Vec<PathBuf> = files.iter().filter(|p| p.is_file() && is_elf(p)).cloned().collect();
    for e in elves {
        for lib in libraries(&e) {
            add(&lib, &mut files)?;
        }
    }
    Ok(files)
}

/// Builds `tag` from `roots` unless it exists (or `force`). Returns whether it built.
pub fn build(tag: &str, roots: &[PathBuf], force: bool) -> Result<bool, String> {
    if has_image(tag) {
        if !force {
            return Ok(false);
        }
        // untag the old one first, so that a rebuild leaves no nameless image behind
        let old = tag.to_string();
        call("rmi", |d| async move {
            d.remove_image(&old, None::<RemoveImageOptions>, None).await
        })?;
    }
    let files = closure(roots)?;
    let mut list = tempfile_in_cache(tag)?;
    // a /tmp for programs that want one; entries are relative to / for tar -C /
    writeln!(list.1, "tmp").map_err(|e| e.to_string())?;
    for f in &files {
        writeln!(list.1, "{}", f.strip_prefix("/").unwrap_or(f).display()).map_err(|e| e.to_string())?;
    }
    drop(list.1);
    let tarred = Command::new("tar")
        .args(["--no-recursion", "-C", "/", "-cf", "-", "-T"])
        .arg(&list.0)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("tar: {e}"))?;
    let _ = std::fs::remove_file(&list.0);
    if !tarred.status.success() {
        return Err(format!(
            "tar for {tag}: {}",
            String::from_utf8_lossy(&tarred.stderr).trim()
        ));
    }
    let (repo, version) = tag.rsplit_once(':').unwrap_or((tag, "latest"));
    let options = CreateImageOptions {
        from_src: Some("-".into()),
        repo: Some(repo.into()),
        tag: Some(version.into()),
        message: Some("built by splitbrain images build".into()),
        ..Default::default()
    };
    let rootfs = bollard::body_full(tarred.stdout.into());
    call("import", |d| async move {
        d.create_image(Some(options), Some(rootfs), None)
            .try_for_each(|_| async { Ok(()) })
            .await
    })?;
    Ok(true)
}

fn tempfile_in_cache(tag: &str) -> Result<(PathBuf, std::fs::File), String> {
    let dir = crate::provision::cache_dir().join("tmp");
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let path = dir.join(format!(
        "image-{}-{}.list",
        tag.replace(['/', ':'], "-"),
        std::process::id()
    ));
    let file = std::fs::File::create(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok((path, file))
}

/// The runner image, from our own binary's libraries.
pub fn build_runner(force: bool) -> Result<bool, String> {
    let exe = std::env::current_exe().map_err(|e| format!("own binary: {e}"))?;
    let libs = libraries(&exe);
    if libs.is_empty() {
        return Err(format!("ldd {}: no libraries found", exe.display()));
    }
    build(RUNNER, &libs, force)
}

/// Images present, for `images list`: tag and size.
pub fn list() -> Result<String, String> {
    let filters = Some(std::collections::HashMap::from([(
        "reference".to_string(),
        vec!["splitbrain/*".to_string()],
    )]));
    let images = call("images", |d| async move {
        d.list_images(Some(ListImagesOptions {
            filters,
            ..Default::default()
        }))
        .await
    })?;
    let mut out = String::new();
    for image in images {
        for tag in &image.repo_tags {
            out.push_str(&format!("{tag}\t{:.1} MB\n", image.size as f64 / 1e6));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closure_follows_links_and_libraries() {
        let sh = PathBuf::from("/bin/sh");
        let files = closure(std::slice::from_ref(&sh)).unwrap();
        // kept under its real parent (/usr/bin on merged-/usr hosts), with /bin as a link
        let real = std::fs::canonicalize("/bin").unwrap().join("sh");
        assert!(files.contains(&real), "{files:?}");
        // /bin/sh is a link on Debian: its target comes along, and libc with it
        assert!(
            files.iter().any(|f| f.to_string_lossy().contains("libc.so")),
            "{files:?}"
        );
        assert!(files.iter().all(|f| f.is_absolute()));
    }
}
