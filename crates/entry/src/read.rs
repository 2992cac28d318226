//! Reading project files (lock file, configuration, definition files, `file://` references):
//! regular files only, at most [`MAX_FILE_SIZE`] bytes each.
//!
//! A path that is, or links to, `/dev/zero`, a FIFO or a socket would be read until memory
//! runs out or block the boot forever, and a huge file would be read whole: each is refused
//! with an error naming what the path is. The type is checked before the file is opened (so
//! a FIFO is never opened) and again on the opened file; the size is checked from the
//! metadata and again while reading, for a file that grows.

use std::fs::{File, Metadata};
use std::io::{self, Read};
use std::path::Path;

/// The largest project file read: 16 MiB.
pub const MAX_FILE_SIZE: u64 = 16 << 20;

/// Reads a whole regular file of at most [`MAX_FILE_SIZE`] bytes.
///
/// Errors are the operating system's (a missing file keeps [`io::ErrorKind::NotFound`]), or
/// [`io::ErrorKind::InvalidInput`] with a message such as `not a regular file (a FIFO)` or
/// `larger than 16 MiB (20000000 bytes)`.
pub fn read_file(path: &Path) -> io::Result<Vec<u8>> {
    check(&std::fs::metadata(path)?)?;
    let file = File::open(path)?;
    let meta = file.metadata()?;
    check(&meta)?;
    let mut bytes = Vec::with_capacity(meta.len().min(MAX_FILE_SIZE) as usize);
    file.take(MAX_FILE_SIZE + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_FILE_SIZE {
        return Err(too_big(bytes.len() as u64));
    }
    Ok(bytes)
}

/// [`read_file`] as UTF-8 text; invalid UTF-8 is [`io::ErrorKind::InvalidData`] naming the
/// first bad byte.
pub fn read_text(path: &Path) -> io::Result<String> {
    String::from_utf8(read_file(path)?).map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("not valid UTF-8 (byte {})", e.utf8_error().valid_up_to()),
        )
    })
}

fn check(meta: &Metadata) -> io::Result<()> {
    if !meta.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("not a regular file ({})", describe(meta)),
        ));
    }
    if meta.len() > MAX_FILE_SIZE {
        return Err(too_big(meta.len()));
    }
    Ok(())
}

fn too_big(len: u64) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("larger than {} MiB ({len} bytes)", MAX_FILE_SIZE >> 20),
    )
}

/// What a path that is not a regular file is, for the message.
fn describe(meta: &Metadata) -> &'static str {
    let kind = meta.file_type();
    if kind.is_dir() {
        return "a directory";
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_fifo() {
            return "a FIFO";
        }
        if kind.is_char_device() {
            return "a character device";
        }
        if kind.is_block_device() {
            return "a block device";
        }
        if kind.is_socket() {
            return "a socket";
        }
    }
    "a special file"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_regular_files() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("a.yaml");
        std::fs::write(&path, "x: 1\n").expect("write");
        assert_eq!(read_text(&path).expect("read"), "x: 1\n");
        let err = read_text(&dir.path().join("missing")).expect_err("missing");
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        std::fs::write(&path, b"ok\xff").expect("write");
        assert_eq!(
            read_text(&path).expect_err("not UTF-8").to_string(),
            "not valid UTF-8 (byte 2)"
        );
    }

    #[test]
    fn refuses_what_is_not_a_regular_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        assert_eq!(
            read_file(dir.path()).expect_err("dir").to_string(),
            "not a regular file (a directory)"
        );
        #[cfg(unix)]
        {
            let link = dir.path().join("zero.yaml");
            std::os::unix::fs::symlink("/dev/zero", &link).expect("symlink");
            assert_eq!(
                read_file(&link).expect_err("device").to_string(),
                "not a regular file (a character device)"
            );
        }
    }

    #[test]
    fn refuses_files_over_the_cap() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("big.lua");
        let file = File::create(&path).expect("create");
        // Sparse: no disk space is used.
        file.set_len(MAX_FILE_SIZE + 1).expect("grow");
        assert_eq!(
            read_file(&path).expect_err("too big").to_string(),
            format!("larger than 16 MiB ({} bytes)", MAX_FILE_SIZE + 1)
        );
        file.set_len(MAX_FILE_SIZE).expect("shrink");
        assert_eq!(
            read_file(&path).expect("at the cap").len() as u64,
            MAX_FILE_SIZE
        );
    }
}
