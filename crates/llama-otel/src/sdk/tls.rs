//! TLS to the collector with rustls (ring): the system's roots by default, or the CA file of
//! `OTEL_EXPORTER_OTLP_*CERTIFICATE`, plus a client identity for mutual TLS. The OTLP
//! exporters do not read these variables, so we build the tonic TLS config and, for OTLP/HTTP,
//! the blocking reqwest client ourselves.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use opentelemetry_otlp::tonic_types::transport::{Certificate, ClientTlsConfig, Identity};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::config::TlsFiles;

/// Whether the effective endpoint (with the scheme the exporter will use) gets TLS.
pub(crate) fn wanted(endpoint: &str) -> bool {
    endpoint.starts_with("https://")
}

fn read(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("TLS: cannot read {}: {e}", path.display()))
}

/// PEM bytes of a client certificate chain and its key.
type IdentityPems = (Vec<u8>, Vec<u8>);

/// Client certificate and key, both or neither.
fn identity_pems(files: &TlsFiles) -> Result<Option<IdentityPems>, String> {
    match (&files.client_certificate, &files.client_key) {
        (Some(cert), Some(key)) => Ok(Some((read(cert)?, read(key)?))),
        (None, None) => Ok(None),
        _ => Err("TLS: OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE and _CLIENT_KEY go together".into()),
    }
}

/// TLS for the gRPC (tonic) exporters. HTTP/2 is assumed when the server does not answer
/// ALPN: TLS terminators in front of collectors (stunnel, some load balancers) often don't.
pub(crate) fn tonic_config(files: &TlsFiles) -> Result<ClientTlsConfig, String> {
    let config = ClientTlsConfig::new().assume_http2(true);
    let config = match &files.certificate {
        Some(path) => config.ca_certificate(Certificate::from_pem(read(path)?)),
        None => config.with_native_roots(),
    };
    Ok(match identity_pems(files)? {
        Some((cert, key)) => config.identity(Identity::from_pem(cert, key)),
        None => config,
    })
}

fn root_store(files: &TlsFiles) -> Result<rustls::RootCertStore, String> {
    let mut roots = rustls::RootCertStore::empty();
    match &files.certificate {
        Some(path) => {
            let pem = read(path)?;
            for cert in CertificateDer::pem_slice_iter(&pem) {
                let cert = cert.map_err(|e| format!("TLS: {}: {e}", path.display()))?;
                roots
                    .add(cert)
                    .map_err(|e| format!("TLS: {}: {e}", path.display()))?;
            }
        }
        None => {
            // Unreadable system certificates are skipped, as tonic's native roots do.
            let native = rustls_native_certs::load_native_certs().certs;
            let _ = roots.add_parsable_certificates(native);
        }
    }
    Ok(roots)
}

fn rustls_config(files: &TlsFiles) -> Result<rustls::ClientConfig, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?
        .with_root_certificates(root_store(files)?);
    match identity_pems(files)? {
        None => Ok(builder.with_no_client_auth()),
        Some((cert, key)) => {
            let chain = CertificateDer::pem_slice_iter(&cert)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| format!("TLS: client certificate: {e}"))?;
            let key =
                PrivateKeyDer::from_pem_slice(&key).map_err(|e| format!("TLS: client key: {e}"))?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| format!("TLS: client identity: {e}"))
        }
    }
}

/// A blocking reqwest client for the OTLP/HTTP exporters (plain `http://` endpoints too; the
/// TLS settings then go unused). Built on a helper thread: reqwest's
/// blocking client owns a runtime, which must not be created inside the exporter runtime.
pub(crate) fn http_client(
    files: &TlsFiles,
    timeout: Duration,
) -> Result<reqwest::blocking::Client, String> {
    let tls = rustls_config(files)?;
    std::thread::Builder::new()
        .name("llama-otel-http-client".into())
        .spawn(move || {
            reqwest::blocking::Client::builder()
                .tls_backend_preconfigured(tls)
                .timeout(timeout)
                .build()
        })
        .map_err(|e| format!("cannot spawn a thread: {e}"))?
        .join()
        .map_err(|_| "building the HTTP client panicked".to_owned())?
        .map_err(|e| format!("cannot build the HTTP client: {e}"))
}
