//! Destination names for finished uploads: [`sanitize_filename`] turns the client's `filename` metadata into a
//! safe basename, [`collision_name`] numbers it (`a.tar.gz` → `a_1.tar.gz`), and [`place_no_clobber`] publishes a
//! data file and its record under the first free name without ever overwriting anything. [`publish`] does the
//! same but keeps the staged names, so that [`find_published`] can tell after a crash that it did: a worker
//! handed the same upload again does not deliver it twice.
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
    let placed = publish(dir, name, data, record)?;
    remove_if_exists(data)?;
    remove_if_exists(record)?;
    Ok(placed)
}

/// [`place_no_clobber`] without removing the staged files: they stay as second names of the published ones, so
/// that [`find_published`] can tell later that this publication happened (a worker killed before it could note
/// that, say). Remove them once that is recorded elsewhere. On a filesystem without hard links the staged files
/// are moved, not linked, and nothing is left to find.
pub fn publish(dir: &Path, name: &str, data: &Path, record: &Path) -> io::Result<PathBuf> {
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
            Ok(()) => return Ok(data_dest),
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

/// Where an earlier [`publish`] of the staged `data` and `record` under `name` put them in `dir`, if it did: the
/// name whose data and `.meta` are the very files staged (the same inodes, not equal contents). `None` when the
/// staged files are missing or were not published; a record published without its data (the earlier publication
/// was cut between its two links) is removed again, so that publishing anew reuses its name.
///
/// Looks at the names [`publish`] would have tried, in its order, up to the first one of which neither the data
/// nor the `.meta` exists.
pub fn find_published(dir: &Path, name: &str, data: &Path, record: &Path) -> io::Result<Option<PathBuf>> {
    let (Some(data_file), Some(record_file)) = (open_if_exists(data)?, open_if_exists(record)?) else {
        return Ok(None);
    };
    let (data_file, record_file) =
        (same_file::Handle::from_file(data_file)?, same_file::Handle::from_file(record_file)?);
    for n in 0..MAX_COLLISIONS {
        let candidate = collision_name(name, n);
        let data_dest = dir.join(&candidate);
        let record_dest = dir.join(format!("{candidate}.meta"));
        let Some(published_record) = open_if_exists(&record_dest)? else {
            if data_dest.symlink_metadata().is_err() {
                return Ok(None);
            }
            continue;
        };
        if same_file::Handle::from_file(published_record)? != record_file {
            continue;
        }
        let published_data = open_if_exists(&data_dest)?.map(same_file::Handle::from_file).transpose()?;
        if published_data.as_ref() == Some(&data_file) {
            return Ok(Some(data_dest));
        }
        remove_if_exists(&record_dest)?;
        return Ok(None);
    }
    Ok(None)
}

fn open_if_exists(path: &Path) -> io::Result<Option<fs::File>> {
    match fs::File::open(path) {
        Ok(file) => Ok(Some(file)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(with_path(e, "open", path)),
    }
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

    #[test]
    fn a_publication_is_found_by_its_staged_names_and_not_by_equal_contents() {
        let tmp = tempfile::tempdir().unwrap();
        let (dest, stage) = (tmp.path().to_path_buf(), tmp.path().join(".stage"));
        fs::create_dir_all(&stage).unwrap();
        let (data, record) = staged(&stage, "up", "bytes");
        assert_eq!(find_published(&dest, "f.bin", &data, &record).unwrap(), None, "not published yet");
        // Someone else's file of equal content under the name: not ours.
        fs::write(dest.join("f.bin"), "bytes").unwrap();
        fs::write(dest.join("f.bin.meta"), "record of bytes").unwrap();
        assert_eq!(find_published(&dest, "f.bin", &data, &record).unwrap(), None);

        let placed = publish(&dest, "f.bin", &data, &record).unwrap();
        assert_eq!(placed, dest.join("f_1.bin"));
        assert!(data.exists() && record.exists(), "publish keeps the staged names");
        assert_eq!(find_published(&dest, "f.bin", &data, &record).unwrap(), Some(placed.clone()));
        // Found again after a restart, however often asked; nothing is published twice.
        assert_eq!(find_published(&dest, "f.bin", &data, &record).unwrap(), Some(placed));
        assert!(!dest.join("f_2.bin").exists());
        fs::remove_file(&data).unwrap();
        assert_eq!(find_published(&dest, "f.bin", &data, &record).unwrap(), None, "nothing staged, nothing known");
    }

    #[test]
    fn a_record_published_without_its_data_is_taken_back() {
        let tmp = tempfile::tempdir().unwrap();
        let (dest, stage) = (tmp.path().to_path_buf(), tmp.path().join(".stage"));
        fs::create_dir_all(&stage).unwrap();
        let (data, record) = staged(&stage, "up", "bytes");
        // Killed between the two links: the record is out, the data is not.
        fs::hard_link(&record, dest.join("g.bin.meta")).unwrap();
        assert_eq!(find_published(&dest, "g.bin", &data, &record).unwrap(), None);
        assert!(!dest.join("g.bin.meta").exists(), "the orphan record is removed");
        assert_eq!(publish(&dest, "g.bin", &data, &record).unwrap(), dest.join("g.bin"), "so the name is reused");
    }
}
