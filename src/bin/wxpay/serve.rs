//! `wxpay sandbox`: the embedded platform double, served for other tools, with its test
//! keys written to files they can read.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use wechatpay::sandbox::{self, Sandbox};

use crate::cli::SandboxArgs;
use crate::failure::{Exit, Failure};

/// Starts the sandbox, writes its keys, prints how to reach it, and serves.
///
/// # Errors
///
/// A transport failure if the port cannot be bound; any other failure if the key
/// directory cannot be written or stdout cannot be written to.
pub async fn run(args: SandboxArgs) -> Result<(), Failure> {
    // A port that cannot be bound (in use, privileged) is reported in the library's words,
    // which name the port and the fix.
    let sandbox = Sandbox::start_on(args.port).await.map_err(|e| {
        let message = match e {
            wechatpay::Error::Config { message } => message,
            other => other.to_string(),
        };
        Failure::new(Exit::Transport, message)
    })?;
    let keys = KeyDir::create().map_err(|e| {
        Failure::new(
            Exit::Other,
            format!("cannot write the sandbox keys to the temporary directory: {e}"),
        )
    })?;
    let mut stdout = io::stdout().lock();
    announce(&mut stdout, &sandbox.base_url(), &keys, args.until_eof)
        .and_then(|()| stdout.flush())
        .map_err(|e| Failure::new(Exit::Other, format!("cannot write to standard output: {e}")))?;
    drop(stdout);

    if args.until_eof {
        stdin_closed().await;
    } else {
        // Until interrupted; returning drops the key directory, which removes it.
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
    Ok(())
}

/// The base URL, the key files, and `export` lines that point `wxpay` (or any tool reading
/// the same variables) at this sandbox with credentials. Everything but the `export` lines
/// is a `#` comment, so the output can be pasted into a shell or `eval`ed as is.
fn announce(
    out: &mut impl Write,
    base_url: &str,
    keys: &KeyDir,
    until_eof: bool,
) -> io::Result<()> {
    let platform_keys = format!(
        "{}={},{}={}",
        sandbox::PLATFORM_SERIAL,
        keys.platform_certificate.display(),
        sandbox::PUBLIC_KEY_ID,
        keys.public_key.display()
    );
    writeln!(
        out,
        "# wxpay sandbox: a WeChat Pay platform double (published test keys, never for money)"
    )?;
    writeln!(out, "# base URL:             {base_url}")?;
    writeln!(
        out,
        "# merchant private key: {}",
        keys.merchant_key.display()
    )?;
    writeln!(
        out,
        "# merchant certificate: {}",
        keys.merchant_certificate.display()
    )?;
    writeln!(
        out,
        "# platform certificate: {} (serial {})",
        keys.platform_certificate.display(),
        sandbox::PLATFORM_SERIAL
    )?;
    writeln!(
        out,
        "# WeChat Pay public key: {} (id {})",
        keys.public_key.display(),
        sandbox::PUBLIC_KEY_ID
    )?;
    writeln!(out, "# APIv3 key file:        {}", keys.apiv3_key.display())?;
    writeln!(out, "# APIv2 key file:        {}", keys.apiv2_key.display())?;
    writeln!(out, "# To call it from another shell, paste:")?;
    for (name, value) in [
        ("WECHATPAY_BASE_URL", base_url.to_owned()),
        ("WECHATPAY_MCHID", sandbox::MERCHANT_ID.to_owned()),
        ("WECHATPAY_SERIAL", sandbox::MERCHANT_SERIAL.to_owned()),
        (
            "WECHATPAY_PRIVATE_KEY",
            keys.merchant_key.display().to_string(),
        ),
        ("WECHATPAY_PLATFORM_KEYS", platform_keys),
        (
            "WECHATPAY_APIV3_KEY_FILE",
            keys.apiv3_key.display().to_string(),
        ),
        (
            "WECHATPAY_APIV2_KEY_FILE",
            keys.apiv2_key.display().to_string(),
        ),
    ] {
        writeln!(out, "export {name}={}", shell_quote(&value))?;
    }
    if until_eof {
        writeln!(out, "# Serving until standard input closes.")
    } else {
        writeln!(out, "# Serving until Ctrl-C.")
    }
}

/// Resolves once standard input reaches its end (read on a plain thread: Tokio's stdin
/// needs a feature this crate does not enable).
async fn stdin_closed() {
    let (closed, wait) = tokio::sync::oneshot::channel::<()>();
    std::thread::spawn(move || {
        let _ = io::copy(&mut io::stdin().lock(), &mut io::sink());
        let _ = closed.send(());
    });
    let _ = wait.await;
}

/// `value` as one shell word: unchanged if it is plain, else single-quoted.
fn shell_quote(value: &str) -> String {
    let plain = value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-:=,+@%".contains(c));
    if plain {
        value.to_owned()
    } else {
        format!("'{}'", value.replace('\'', r"'\''"))
    }
}

/// The sandbox's key files in a fresh temporary directory, removed on drop.
#[derive(Debug)]
struct KeyDir {
    dir: PathBuf,
    merchant_key: PathBuf,
    merchant_certificate: PathBuf,
    platform_certificate: PathBuf,
    public_key: PathBuf,
    apiv3_key: PathBuf,
    apiv2_key: PathBuf,
}

impl KeyDir {
    fn create() -> io::Result<KeyDir> {
        let dir = fresh_dir()?;
        let write = |name: &str, pem: &str| -> io::Result<PathBuf> {
            let path = dir.join(name);
            fs::write(&path, pem)?;
            Ok(path)
        };
        let keys = KeyDir {
            merchant_key: write("apiclient_key.pem", sandbox::MERCHANT_PRIVATE_KEY_PEM)?,
            merchant_certificate: write("apiclient_cert.pem", sandbox::MERCHANT_CERTIFICATE_PEM)?,
            platform_certificate: write("platform_cert.pem", sandbox::PLATFORM_CERTIFICATE_PEM)?,
            public_key: write("pub_key.pem", sandbox::PUBLIC_KEY_PEM)?,
            apiv3_key: write("apiv3_key.txt", sandbox::APIV3_KEY)?,
            apiv2_key: write("apiv2_key.txt", sandbox::APIV2_KEY)?,
            dir,
        };
        owner_only(&keys.merchant_key)?;
        owner_only(&keys.apiv3_key)?;
        owner_only(&keys.apiv2_key)?;
        Ok(keys)
    }
}

impl Drop for KeyDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// A new directory under the system's temporary directory, never an existing one.
fn fresh_dir() -> io::Result<PathBuf> {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    let base = std::env::temp_dir();
    let mut last_error = None;
    for attempt in 0..16u32 {
        let dir = base.join(format!(
            "wxpay-sandbox-{}-{:08x}",
            std::process::id(),
            nanos.wrapping_add(attempt)
        ));
        match fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last_error = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last_error.unwrap_or_else(|| io::Error::other("no free directory name")))
}

/// Private key files are readable by their owner only, as real ones should be (these are
/// published test keys, but tools may check).
#[cfg(unix)]
fn owner_only(path: &Path) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(0o600))
}

#[cfg(not(unix))]
fn owner_only(_path: &Path) -> io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_words_are_quoted_only_when_needed() {
        assert_eq!(shell_quote("/tmp/a-b_c.pem"), "/tmp/a-b_c.pem");
        assert_eq!(shell_quote("A=/x,B=/y"), "A=/x,B=/y");
        assert_eq!(
            shell_quote("/tmp/my keys/it's.pem"),
            r"'/tmp/my keys/it'\''s.pem'"
        );
    }
}
