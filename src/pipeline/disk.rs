//! Free space on the state directory's file system, so a run is skipped instead of filling it.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// Bytes available to unprivileged users on the file system holding `path`.
pub fn free_bytes(path: &Path) -> std::io::Result<u64> {
    let c = CString::new(path.as_os_str().as_bytes())
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    // SAFETY: statvfs only writes into the struct we pass; `c` is a valid NUL-terminated path.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok((st.f_bavail as u64).saturating_mul(st.f_frsize as u64))
}

/// Why the run is skipped for lack of space, if it is.
pub fn low_space(state_dir: &Path, min_free: u64) -> Option<String> {
    if min_free == 0 {
        return None;
    }
    match free_bytes(state_dir) {
        Ok(free) if free < min_free => Some(format!(
            "only {free} bytes free on the state directory's file system, less than minFreeDisk ({min_free} bytes)"
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_free_space_and_skips_below_the_floor() {
        let free = free_bytes(Path::new("/")).expect("statvfs /");
        assert!(free > 0);
        assert!(low_space(Path::new("/"), u64::MAX).is_some_and(|m| m.contains("minFreeDisk")));
        assert_eq!(low_space(Path::new("/"), 0), None);
    }
}
