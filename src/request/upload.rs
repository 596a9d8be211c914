//! Uploads: the `multipart/form-data` body kind of a request.
//!
//! The wire body is the form ([`crate::multipart`]: a `meta` JSON part and the file), and
//! the APIv3 message's BODY is the `meta` JSON alone, so the signature covers exactly the
//! bytes of that part. The file is read once: bytes are taken as given, a path or a reader
//! is read when the request is sent (before the first attempt; every retry sends the same
//! body), and the endpoint's limits are checked while reading, before anything is sent.

use std::fmt;
use std::path::PathBuf;
use std::pin::Pin;

use http::header::HeaderValue;
use serde_json::Value;
use tokio::io::AsyncRead;

use super::RequestBuilder;
use crate::error::Error;
use crate::multipart::{Multipart, UploadForm};

/// A file to upload and the form it goes in.
pub(crate) struct Upload {
    source: Source,
    /// The form, in the endpoint's layout (`None` for a body built by the caller).
    form: Option<UploadForm>,
}

enum Source {
    Bytes(Vec<u8>),
    Path(PathBuf),
    Reader(Pin<Box<dyn AsyncRead + Send>>),
    Built(Multipart),
}

impl Upload {
    /// `bytes` as the file of `form`.
    pub(crate) fn bytes(form: UploadForm, bytes: Vec<u8>) -> Upload {
        Upload {
            source: Source::Bytes(bytes),
            form: Some(form),
        }
    }

    /// The file at `path` (read when sent) as the file of `form`.
    pub(crate) fn path(form: UploadForm, path: PathBuf) -> Upload {
        Upload {
            source: Source::Path(path),
            form: Some(form),
        }
    }

    /// What `reader` gives (read when sent) as the file of `form`.
    pub(crate) fn reader(form: UploadForm, reader: impl AsyncRead + Send + 'static) -> Upload {
        Upload {
            source: Source::Reader(Box::pin(reader)),
            form: Some(form),
        }
    }

    /// A form the caller built, sent as it is.
    pub(crate) fn built(form: Multipart) -> Upload {
        Upload {
            source: Source::Built(form),
            form: None,
        }
    }

    /// The multipart body, built now: bytes and built forms at once, a path read here
    /// (blocking: `build()` is synchronous; `send()` reads it asynchronously first).
    pub(crate) fn into_multipart(
        self,
        template: &str,
        encrypting: bool,
    ) -> Result<Multipart, Error> {
        if encrypting {
            return Err(Error::request(
                "encrypt_fields applies to JSON bodies, not to an upload (its meta JSON is \
                 signed as it is)",
            ));
        }
        let form = match self.form {
            Some(form) => form,
            None => UploadForm::for_endpoint(template, ""),
        };
        match self.source {
            Source::Built(multipart) => Ok(multipart),
            Source::Bytes(bytes) => form.from_bytes(bytes),
            Source::Path(path) => form.read_path_blocking(&path),
            Source::Reader(_) => Err(Error::request(
                "an upload from a reader is read when the request is sent: call .send() \
                 (or give the bytes with .upload(file_name, bytes) to build() it)",
            )),
        }
    }

    /// Reads a path or a reader into the form (once, asynchronously).
    async fn read(self) -> Result<Upload, Error> {
        let form = self.form;
        let built = match (self.source, form) {
            (Source::Path(path), Some(form)) => form.from_path(&path).await?,
            (Source::Reader(reader), Some(form)) => form.from_reader(reader).await?,
            (source, form) => return Ok(Upload { source, form }),
        };
        Ok(Upload {
            source: Source::Built(built),
            form: None,
        })
    }
}

impl fmt::Debug for Upload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = f.debug_struct("Upload");
        match &self.source {
            Source::Bytes(bytes) => s.field("bytes", &bytes.len()),
            Source::Path(path) => s.field("path", path),
            Source::Reader(_) => s.field("reader", &".."),
            Source::Built(multipart) => s.field("multipart", multipart),
        };
        s.field("form", &self.form).finish()
    }
}

/// The `Content-Type` header of a form.
pub(crate) fn content_type(form: &Multipart) -> Result<HeaderValue, Error> {
    HeaderValue::from_str(form.content_type())
        .map_err(|_| Error::request("the multipart Content-Type is not visible ASCII"))
}

impl RequestBuilder {
    pub(crate) fn with_upload(mut self, upload: Upload) -> RequestBuilder {
        self.upload = Some(upload);
        self
    }

    /// Applies `change` to the upload's form, or reports that there is none to change.
    fn change_form(mut self, what: &str, change: impl FnOnce(UploadForm) -> UploadForm) -> Self {
        match self.upload.as_mut() {
            Some(Upload {
                form: form @ Some(_),
                ..
            }) => {
                if let Some(current) = form.take() {
                    *form = Some(change(current));
                }
            }
            Some(_) => self.fail(Error::request(format!(
                "{what} cannot change a form built with UploadForm: set it on the UploadForm"
            ))),
            None => self.fail(Error::request(format!(
                "{what} applies to uploads (.upload(…), .upload_from_path(…)); this request has \
                 no file"
            ))),
        }
        self
    }

    /// Sets a field of an upload's `meta` JSON (a field the endpoint requires, such as
    /// `bank_type` or `transaction_id`, or an optional one). Fields computed from the file
    /// (its name, its digest) cannot be set. Reported by `build()`/`send()` when the request
    /// is not an upload.
    ///
    /// ```
    /// # let wxpay = wechatpay::sandbox::offline_client()?;
    /// let request = wxpay
    ///     .chain("v3/marketing/bank/packages/{package_id}/tasks")
    ///     .upload("users.csv", b"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o\n".to_vec())
    ///     .param("package_id", "8473295")
    ///     .meta("bank_type", "ICBC_DEBIT")
    ///     .build()?;
    /// let body = String::from_utf8_lossy(request.body());
    /// assert!(body.contains(r#"{"bank_type":"ICBC_DEBIT","filename":"users.csv","sha256":""#));
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn meta(self, name: &str, value: impl Into<Value>) -> Self {
        let value = value.into();
        self.change_form("meta()", |form| form.meta(name, value))
    }

    /// Adds a plain form field to an upload (a part of its own, not signed), for the
    /// endpoints that take one (`item_id`, `manage_record_id`).
    pub fn form_field(self, name: &str, value: &str) -> Self {
        self.change_form("form_field()", |form| form.field(name, value))
    }

    /// Fixes an upload's multipart boundary (random by default), for reproducible bodies.
    pub fn boundary(self, boundary: &str) -> Self {
        self.change_form("boundary()", |form| form.boundary(boundary))
    }

    /// Lowers (or, for endpoints that document no limit, sets) the largest file an upload
    /// accepts, in bytes.
    pub fn max_file_size(self, bytes: u64) -> Self {
        self.change_form("max_file_size()", |form| form.max_size(bytes))
    }

    /// Signs `bytes` as the message BODY instead of the body sent: for a form built by
    /// hand, whose signature covers only its `meta` JSON (set the body with
    /// [`body`](Self::body) and its `Content-Type` with [`header`](Self::header)).
    /// Uploads built by [`Chain::upload`] do this themselves.
    ///
    /// ```
    /// # let wxpay = wechatpay::sandbox::offline_client()?;
    /// let meta = r#"{"filename":"a.txt","sha256":"…"}"#;
    /// let signed = wxpay.chain("v3/x").request(http::Method::POST)
    ///     .body("--B\r\n…--B--\r\n")
    ///     .header("Content-Type", "multipart/form-data; boundary=B")
    ///     .signed_body(meta)
    ///     .timestamp(1_700_000_000).nonce("N").build()?;
    /// let same_message = wxpay.chain("v3/x").request(http::Method::POST)
    ///     .body(meta).timestamp(1_700_000_000).nonce("N").build()?;
    /// assert_eq!(signed.headers()["authorization"], same_message.headers()["authorization"]);
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn signed_body(mut self, bytes: impl Into<Vec<u8>>) -> Self {
        self.signed_body = Some(bytes.into());
        self
    }

    /// Reads an upload's path or reader (once) before the first attempt.
    pub(crate) async fn read_upload(mut self) -> RequestBuilder {
        if self.error.is_some() {
            return self;
        }
        if let Some(upload) = self.upload.take() {
            match upload.read().await {
                Ok(upload) => self.upload = Some(upload),
                Err(error) => self.fail(error),
            }
        }
        self
    }
}
