//! rustls configurations for the link: TLS 1.3 only, the ring provider, each side
//! presenting its own self-signed certificate and requiring the other's.
//!
//! There are no certificate authorities here. A node is known by the fingerprint of its
//! certificate ([`Fingerprint`]), so the verifier accepts any single well-formed
//! certificate, records its fingerprint, and leaves trust to the caller, who looks the
//! fingerprint up in the trust store after the handshake: that is how an unknown node can
//! be held as pending instead of being refused outright. rustls still checks the
//! handshake signature against the certificate's key, so a peer has proven that it holds
//! the key behind the fingerprint it showed. The certificate's own signature, dates and
//! names are not checked: they would prove nothing that the pinned fingerprint does not.
//!
//! When baton's own file pins a fingerprint for a peer's address, the caller builds the
//! config for that connection with the pin, and any other key fails the handshake.
//!
//! In TLS 1.3 the client finishes its handshake before the server has judged the client's
//! certificate, so neither side may count the link as up before it has read the peer's
//! first message.

use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{
    CertificateError, ClientConfig, CommonState, DigitallySignedStruct, DistinguishedName,
    ServerConfig, SignatureScheme,
};

use super::identity::{Fingerprint, Identity};

/// Why a TLS configuration could not be built (in practice: the key does not suit rustls).
#[derive(Debug, thiserror::Error)]
#[error("TLS setup for the link: {0}")]
pub struct TlsError(#[from] rustls::Error);

/// The fingerprint the peer's certificate had in the last handshake made with a config,
/// recorded even when the handshake then failed on a pin, so the failure can name the
/// key that was shown.
#[derive(Debug, Clone, Default)]
pub struct SeenPeer(Arc<Mutex<Option<Fingerprint>>>);

impl SeenPeer {
    pub fn get(&self) -> Option<Fingerprint> {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn set(&self, fingerprint: Fingerprint) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Some(fingerprint);
    }
}

/// The name a client connects to: the peer's address. No name is checked, and rustls sends
/// no SNI for an address, so the link's handshake names nothing.
pub fn server_name(peer: IpAddr) -> ServerName<'static> {
    ServerName::IpAddress(peer.into())
}

/// The fingerprint of the certificate the peer presented on an established connection.
pub fn peer_fingerprint(conn: &CommonState) -> Option<Fingerprint> {
    conn.peer_certificates()
        .and_then(|chain| chain.first())
        .map(|cert| Fingerprint::of_der(cert))
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The dialling side's config, presenting `identity`. With `pin`, only that peer's key
/// completes the handshake.
pub fn client_config(
    identity: &Identity,
    pin: Option<Fingerprint>,
) -> Result<(Arc<ClientConfig>, SeenPeer), TlsError> {
    let provider = provider();
    let verifier = Arc::new(PeerVerifier::new(&provider, pin));
    let seen = verifier.seen.clone();
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_client_auth_cert(vec![identity.cert_der().clone()], identity.key_der())?;
    config.enable_sni = false;
    // Resumption would skip the certificate exchange, and with it the fingerprint.
    config.resumption = rustls::client::Resumption::disabled();
    Ok((Arc::new(config), seen))
}

/// The accepting side's config, presenting `identity` and requiring a client certificate.
/// With `pin` (the caller knows the peer's address before the handshake), only that
/// peer's key completes the handshake.
pub fn server_config(
    identity: &Identity,
    pin: Option<Fingerprint>,
) -> Result<(Arc<ServerConfig>, SeenPeer), TlsError> {
    let provider = provider();
    let verifier = Arc::new(PeerVerifier::new(&provider, pin));
    let seen = verifier.seen.clone();
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_client_cert_verifier(verifier)
        .with_single_cert(vec![identity.cert_der().clone()], identity.key_der())?;
    // No resumption: every connection shows its certificate, so every one is judged.
    config.session_storage = Arc::new(rustls::server::NoServerSessionStorage {});
    config.send_tls13_tickets = 0;
    Ok((Arc::new(config), seen))
}

/// One verifier for both sides: checks that the peer sent exactly one well-formed
/// certificate, records its fingerprint and, if pinned, compares it.
#[derive(Debug)]
struct PeerVerifier {
    algorithms: WebPkiSupportedAlgorithms,
    pin: Option<Fingerprint>,
    seen: SeenPeer,
}

impl PeerVerifier {
    fn new(provider: &CryptoProvider, pin: Option<Fingerprint>) -> Self {
        PeerVerifier {
            algorithms: provider.signature_verification_algorithms,
            pin,
            seen: SeenPeer::default(),
        }
    }

    fn check(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
    ) -> Result<(), rustls::Error> {
        // A node presents its one self-signed certificate; a chain means something else
        // is speaking.
        if !intermediates.is_empty() {
            return Err(rustls::Error::InvalidCertificate(
                CertificateError::UnknownIssuer,
            ));
        }
        ParsedCertificate::try_from(end_entity)?;
        let fingerprint = Fingerprint::of_der(end_entity);
        self.seen.set(fingerprint);
        match self.pin {
            Some(pin) if pin != fingerprint => Err(rustls::Error::InvalidCertificate(
                CertificateError::ApplicationVerificationFailure,
            )),
            _ => Ok(()),
        }
    }

    fn tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }
}

/// rustls is built without TLS 1.2, so this is never called; refuse if it ever were.
fn no_tls12() -> Result<HandshakeSignatureValid, rustls::Error> {
    Err(rustls::Error::General(
        "the link speaks TLS 1.3 only".into(),
    ))
}

impl ServerCertVerifier for PeerVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.check(end_entity, intermediates)
            .map(|()| ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        no_tls12()
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

impl ClientCertVerifier for PeerVerifier {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn client_auth_mandatory(&self) -> bool {
        true
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        self.check(end_entity, intermediates)
            .map(|()| ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        no_tls12()
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
    use tokio_rustls::{TlsAcceptor, TlsConnector, client, server};

    const PEER: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1));

    fn identity(dir: &tempfile::TempDir, name: &str) -> Identity {
        Identity::load_or_create(&dir.path().join(name)).unwrap().0
    }

    type Outcome = (
        std::io::Result<client::TlsStream<DuplexStream>>,
        std::io::Result<server::TlsStream<DuplexStream>>,
    );

    /// A handshake over an in-memory pipe, then one message each way: in TLS 1.3 only the
    /// exchange shows whether the server accepted the client's certificate.
    async fn handshake(client: Arc<ClientConfig>, server: Arc<ServerConfig>) -> Outcome {
        let (client_io, server_io) = tokio::io::duplex(64 * 1024);
        let dial = async {
            let mut tls = TlsConnector::from(client)
                .connect(server_name(PEER), client_io)
                .await?;
            tls.write_all(b"hello").await?;
            let mut buf = [0u8; 5];
            tls.read_exact(&mut buf).await?;
            assert_eq!(&buf, b"olleh");
            Ok(tls)
        };
        let accept = async {
            let mut tls = TlsAcceptor::from(server).accept(server_io).await?;
            let mut buf = [0u8; 5];
            tls.read_exact(&mut buf).await?;
            buf.reverse();
            tls.write_all(&buf).await?;
            tls.flush().await?;
            Ok(tls)
        };
        tokio::join!(dial, accept)
    }

    #[tokio::test]
    async fn both_sides_learn_the_other_fingerprint_over_tls13() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (identity(&dir, "a"), identity(&dir, "b"));
        let (client, client_seen) = client_config(&a, None).unwrap();
        let (server, server_seen) = server_config(&b, None).unwrap();
        let (dialled, accepted) = handshake(client, server).await;
        let (dialled, accepted) = (dialled.unwrap(), accepted.unwrap());

        let client_side = dialled.get_ref().1;
        let server_side = accepted.get_ref().1;
        assert_eq!(peer_fingerprint(client_side), Some(b.fingerprint()));
        assert_eq!(peer_fingerprint(server_side), Some(a.fingerprint()));
        assert_eq!(client_seen.get(), Some(b.fingerprint()));
        assert_eq!(server_seen.get(), Some(a.fingerprint()));
        assert_eq!(
            client_side.protocol_version(),
            Some(rustls::ProtocolVersion::TLSv1_3)
        );

        // A node with a key of its own is a different fingerprint, though it says the same.
        let c = identity(&dir, "c");
        let (client, _) = client_config(&c, None).unwrap();
        let (server, _) = server_config(&b, None).unwrap();
        let (_, accepted) = handshake(client, server).await;
        let seen = peer_fingerprint(accepted.unwrap().get_ref().1).unwrap();
        assert_eq!(seen, c.fingerprint());
        assert_ne!(seen, a.fingerprint());
    }

    #[tokio::test]
    async fn a_pinned_fingerprint_admits_that_key_and_refuses_any_other() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b, c) = (
            identity(&dir, "a"),
            identity(&dir, "b"),
            identity(&dir, "c"),
        );

        let (client, _) = client_config(&a, Some(b.fingerprint())).unwrap();
        let (server, _) = server_config(&b, Some(a.fingerprint())).unwrap();
        let (dialled, accepted) = handshake(client, server).await;
        dialled.unwrap();
        accepted.unwrap();

        // The client expects b but reaches c: the client refuses, and names c's key.
        let (client, seen) = client_config(&a, Some(b.fingerprint())).unwrap();
        let (server, _) = server_config(&c, None).unwrap();
        let (dialled, accepted) = handshake(client, server).await;
        assert!(dialled.is_err() && accepted.is_err());
        assert_eq!(seen.get(), Some(c.fingerprint()));

        // The server expects a but c dials: the server refuses.
        let (client, _) = client_config(&c, None).unwrap();
        let (server, seen) = server_config(&b, Some(a.fingerprint())).unwrap();
        let (dialled, accepted) = handshake(client, server).await;
        let err = accepted.unwrap_err().to_string();
        assert!(err.contains("ApplicationVerificationFailure"), "{err}");
        assert!(dialled.is_err());
        assert_eq!(seen.get(), Some(c.fingerprint()));
    }

    #[tokio::test]
    async fn a_client_without_a_certificate_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let b = identity(&dir, "b");
        let (server, seen) = server_config(&b, None).unwrap();
        let anonymous = ClientConfig::builder_with_provider(provider())
            .with_protocol_versions(&[&rustls::version::TLS13])
            .unwrap()
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(PeerVerifier::new(&provider(), None)))
            .with_no_client_auth();
        let (dialled, accepted) = handshake(Arc::new(anonymous), server).await;
        let err = accepted.unwrap_err().to_string();
        assert!(err.contains("no certificates"), "{err}");
        assert!(dialled.is_err());
        assert_eq!(seen.get(), None);
    }
}
