//! Destination names for finished uploads: [`sanitize_filename`] turns the client's `filename` metadata into a
//! safe basename, [`collision_name`] numbers it (`a.tar.gz` → `a_1.tar.gz`), and [`place_no_clobber`] publishes a
//! data file and its record under the first free name without ever overwriting anything.
//!
//! Placement is race-free between any number of workers (threads or processes): a name is taken with a hard link,
//! which fails when the name exists, instead of a `rename`, which would replace it.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// Longest name [`sanitize_filename`] returns, in bytes: room is left for `_N` and `.meta` within the usual
/// 255-byte limit of a file name.
pub const MAX_NAME_BYTES: usize = 200;

/// How many numbered names [`place_no_clobber`] tries before it gives up.
pub const MAX_COLLISIONS: u32 = 100_000;

/// The basename to save an upload under: the last component of `raw` (after the last `/` or `\`), without control
/// characters, trimmed of surrounding white space, at most [`MAX_NAME_BYTES`] bytes (the suffixes are kept when
/// the stem is shortened). `fallback` (the upload id) when nothing usable is left: no name, `.` or `..`.
pub fn sanitize_filename(raw: Option<&str>, fallback: &str) -> String {
    let Some(raw) = raw else { return fallback.to_owned() };
    let base = raw.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = base.chars().filter(|c| !c.is_control()).collect();
    let cleaned = cleaned.trim();
    if cleaned.is_empty() || cleaned == "." || cleaned == ".." {
        return fallback.to_owned();
    }
    shorten(cleaned)
}

/// Cuts `name` to [`MAX_NAME_BYTES`], shortening the stem first so that the suffixes survive.
fn shorten(name: &str) -> String {
    if name.len() <= MAX_NAME_BYTES {
        return name.to_owned();
    }
    let (stem, suffixes) = split_suffixes(name);
    if suffixes.len() < MAX_NAME_BYTES / 2 {
        let keep = floor_char_boundary(stem, MAX_NAME_BYTES - suffixes.len());
        format!("{}{suffixes}", &stem[..keep])
    } else {
        name[..floor_char_boundary(name, MAX_NAME_BYTES)].to_owned()
    }
}

fn floor_char_boundary(s: &str, max: usize) -> usize {
    (0..=max.min(s.len())).rev().find(|&i| s.is_char_boundary(i)).unwrap_or(0)
}

/// Splits a basename into its stem and all its suffixes, as Python's `pathlib` does (and so the original tussi):
/// `a.tar.gz` → (`a`, `.tar.gz`); leading dots belong to the stem (`.bashrc` has no suffix); a name ending in a dot
/// has none either.
pub fn split_suffixes(name: &str) -> (&str, &str) {
    if name.ends_with('.') {
        return (name, "");
    }
    let leading = name.len() - name.trim_start_matches('.').len();
    match name[leading..].find('.') {
        Some(dot) => name.split_at(leading + dot),
        None => (name, ""),
    }
}

/// The `n`-th candidate for `name`: `name` itself for 0, else `_n` inserted before the suffixes.
pub fn collision_name(name: &str, n: u32) -> String {
    if n == 0 {
        return name.to_owned();
    }
    let (stem, suffixes) = split_suffixes(name);
    format!("{stem}_{n}{suffixes}")
}

/// Publishes `data` as `dir/<name>` and `record` as `dir/<name>.meta`, where `<name>` is the first
/// [`collision_name`] of `name` for which both are free; returns the data's new path.
///
/// `data` and `record` must be on the same filesystem as `dir` (a staging directory inside it, say). The record is
/// placed first, so whoever sees the data also finds its record. Nothing existing is ever replaced: each name is
/// taken by a hard link (`link(2)` fails with `EEXIST`), and the staged files are removed afterwards. On a
/// filesystem without hard links, a name is reserved with `O_CREAT|O_EXCL` and the file renamed onto its own
/// reservation.
pub fn place_no_clobber(dir: &Path, name: &str, data: &Path, record: &Path) -> io::Result<PathBuf> {
    for n in 0..MAX_COLLISIONS {
        let candidate = collision_name(name, n);
        let data_dest = dir.join(&candidate);
        let record_dest = dir.join(format!("{candidate}.meta"));
        match link_no_clobber(record, &record_dest) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(with_path(e, "publish record", &record_dest)),
        }
        match link_no_clobber(data, &data_dest) {
            Ok(()) => {
                remove_if_exists(data)?;
                remove_if_exists(record)?;
                return Ok(data_dest);
            }
            Err(e) => {
                // The record name is ours (we just linked it): give it back before trying the next name.
                let _ = fs::remove_file(&record_dest);
                if e.kind() != io::ErrorKind::AlreadyExists {
                    return Err(with_path(e, "publish data", &data_dest));
                }
            }
        }
    }
    Err(io::Error::other(format!("no free name for {name} in {} after {MAX_COLLISIONS} tries", dir.display())))
}

/// Makes `dst` name the file `src` names, failing with `AlreadyExists` when `dst` exists.
fn link_no_clobber(src: &Path, dst: &Path) -> io::Result<()> {
    match fs::hard_link(src, dst) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Err(e),
        Err(e) if matches!(e.kind(), io::ErrorKind::PermissionDenied | io::ErrorKind::Unsupported) => {
            // No hard links here (some FUSE and network filesystems): reserve the name, then move onto it.
            fs::OpenOptions::new().write(true).create_new(true).open(dst)?;
            fs::rename(src, dst).inspect_err(|_| {
                let _ = fs::remove_file(dst);
            })
        }
        Err(e) => Err(e),
    }
}

fn remove_if_exists(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(with_path(e, "remove staged file", path)),
        _ => Ok(()),
    }
}

fn with_path(e: io::Error, what: &str, path: &Path) -> io::Error {
    io::Error::new(e.kind(), format!("{what} {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitising_keeps_the_basename_only() {
        let id = "0f8fad5b-d9cb-469f-a165-70867728950e";
        assert_eq!(sanitize_filename(Some("report.pdf"), id), "report.pdf");
        assert_eq!(sanitize_filename(Some("../../etc/passwd"), id), "passwd");
        assert_eq!(sanitize_filename(Some("/abs/path/x.txt"), id), "x.txt");
        assert_eq!(sanitize_filename(Some("C:\\Users\\me\\doc.txt"), id), "doc.txt");
        assert_eq!(sanitize_filename(Some("a\nb\tc\u{7f}.txt"), id), "abc.txt");
        assert_eq!(sanitize_filename(Some("  spaced name.txt  "), id), "spaced name.txt");
        assert_eq!(sanitize_filename(Some("ünïcödé.txt"), id), "ünïcödé.txt");
        assert_eq!(sanitize_filename(Some(".bashrc"), id), ".bashrc");
    }

    #[test]
    fn sanitising_falls_back_to_the_id() {
        let id = "0f8fad5b-d9cb-469f-a165-70867728950e";
        for raw in [None, Some(""), Some("."), Some(".."), Some("dir/"), Some("a/.."), Some("\u{1}\u{2}"), Some("  ")] {
            assert_eq!(sanitize_filename(raw, id), id, "{raw:?}");
        }
    }

    #[test]
    fn long_names_are_cut_keeping_suffixes() {
        let long = format!("{}.tar.gz", "x".repeat(400));
        let cut = sanitize_filename(Some(&long), "id");
        assert_eq!(cut.len(), MAX_NAME_BYTES);
        assert!(cut.ends_with("x.tar.gz"));
        let wide = "é".repeat(300); // two bytes each: the cut must fall on a character boundary
        let cut = sanitize_filename(Some(&wide), "id");
        assert!(cut.len() <= MAX_NAME_BYTES && cut.chars().all(|c| c == 'é'));
    }

    #[test]
    fn suffixes_split_like_pathlib() {
        assert_eq!(split_suffixes("a.tar.gz"), ("a", ".tar.gz"));
        assert_eq!(split_suffixes("a"), ("a", ""));
        assert_eq!(split_suffixes(".bashrc"), (".bashrc", ""));
        assert_eq!(split_suffixes(".config.json"), (".config", ".json"));
        assert_eq!(split_suffixes("trailing."), ("trailing.", ""));
    }

    #[test]
    fn collision_names_number_before_the_suffixes() {
        assert_eq!(collision_name("a.tar.gz", 0), "a.tar.gz");
        assert_eq!(collision_name("a.tar.gz", 1), "a_1.tar.gz");
        assert_eq!(collision_name("a.tar.gz", 12), "a_12.tar.gz");
        assert_eq!(collision_name("README", 2), "README_2");
        assert_eq!(collision_name(".bashrc", 1), ".bashrc_1");
    }

    fn staged(dir: &Path, tag: &str, content: &str) -> (PathBuf, PathBuf) {
        let (data, record) = (dir.join(format!("{tag}.data")), dir.join(format!("{tag}.rec")));
        fs::write(&data, content).unwrap();
        fs::write(&record, format!("record of {content}")).unwrap();
        (data, record)
    }

    #[test]
    fn placement_numbers_collisions_and_never_overwrites() {
        let tmp = tempfile::tempdir().unwrap();
        let (dest, stage) = (tmp.path().join("dest"), tmp.path().join("dest/.stage"));
        fs::create_dir_all(&stage).unwrap();
        fs::write(dest.join("a.tar.gz"), "someone else's").unwrap();
        // A free data name whose record name is taken is skipped too.
        fs::write(dest.join("a_1.tar.gz.meta"), "unrelated").unwrap();

        let (data, record) = staged(&stage, "one", "first");
        let placed = place_no_clobber(&dest, "a.tar.gz", &data, &record).unwrap();
        assert_eq!(placed, dest.join("a_2.tar.gz"));
        assert_eq!(fs::read_to_string(&placed).unwrap(), "first");
        assert_eq!(fs::read_to_string(dest.join("a_2.tar.gz.meta")).unwrap(), "record of first");
        assert!(!data.exists() && !record.exists(), "staged files are removed");

        let (data, record) = staged(&stage, "two", "second");
        assert_eq!(place_no_clobber(&dest, "a.tar.gz", &data, &record).unwrap(), dest.join("a_3.tar.gz"));
        assert_eq!(fs::read_to_string(dest.join("a.tar.gz")).unwrap(), "someone else's");
        assert_eq!(fs::read_to_string(dest.join("a_1.tar.gz.meta")).unwrap(), "unrelated");
        assert!(!dest.join("a_1.tar.gz").exists(), "no data without its record");
    }

    #[test]
    fn concurrent_placements_get_distinct_names() {
        let tmp = tempfile::tempdir().unwrap();
        let (dest, stage) = (tmp.path().to_path_buf(), tmp.path().join(".stage"));
        fs::create_dir_all(&stage).unwrap();
        let threads: Vec<_> = (0..8)
            .map(|i| {
                let (data, record) = staged(&stage, &i.to_string(), &format!("content {i}"));
                let dest = dest.clone();
                std::thread::spawn(move || place_no_clobber(&dest, "same.txt", &data, &record).unwrap())
            })
            .collect();
        let mut names: Vec<PathBuf> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), 8);
        let mut contents: Vec<String> = names.iter().map(|p| fs::read_to_string(p).unwrap()).collect();
        contents.sort();
        assert_eq!(contents, (0..8).map(|i| format!("content {i}")).collect::<Vec<_>>());
    }
}
