//! Each election step as etcd calls, one function per [`Command`]: what goes on the wire
//! and how the answer reads back. No retries and no timeouts here (the caller bounds
//! every call); keys and values from etcd are read lossily, never trusted to be UTF-8.

use std::time::Duration;

use etcd_client::{
    Client, Compare, CompareOp, GetOptions, GetResponse, KeyValue, PutOptions, SortOrder,
    SortTarget, Txn, TxnOp, TxnOpResponse,
};

use crate::arbiter::{Leader, Reply};

/// What every call gives back.
pub type EtcdResult<T> = Result<T, etcd_client::Error>;

pub async fn grant(mut client: Client, ttl: Duration) -> EtcdResult<Reply> {
    // Whole seconds, rounded up: never less than asked for.
    let secs = ttl.as_secs() + u64::from(ttl.subsec_nanos() > 0);
    let r = client.lease_grant(secs.max(1) as i64, None).await?;
    Ok(Reply::Granted {
        lease: r.id(),
        ttl: Duration::from_secs(r.ttl().max(0) as u64),
    })
}

/// One keep-alive round on a stream of its own. TTL 0 in the answer: the lease is gone.
/// Opening the stream renews once and keeps that answer to itself (refusing a lease etcd
/// no longer has); the second renewal's answer carries the TTL.
pub async fn keep_alive(mut client: Client, lease: i64) -> EtcdResult<Reply> {
    let (mut keeper, mut stream) = match client.lease_keep_alive(lease).await {
        Ok(pair) => pair,
        Err(etcd_client::Error::LeaseKeepAliveError(e)) if e.contains("lease not found") => {
            return Ok(Reply::KeptAlive {
                ttl: Duration::ZERO,
            });
        }
        Err(e) => return Err(e),
    };
    keeper.keep_alive().await?;
    match stream.message().await? {
        Some(r) => Ok(Reply::KeptAlive {
            ttl: Duration::from_secs(r.ttl().max(0) as u64),
        }),
        None => Err(etcd_client::Error::LeaseKeepAliveError(
            "the keep-alive stream ended without an answer".into(),
        )),
    }
}

/// The leader's read: the key under the election with the lowest create revision.
fn first_by_create() -> GetOptions {
    GetOptions::new()
        .with_prefix()
        .with_sort(SortTarget::Create, SortOrder::Ascend)
        .with_limit(1)
}

fn leader_query(election: &str) -> TxnOp {
    TxnOp::get(election, Some(first_by_create()))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn leader_of(kv: Option<&KeyValue>) -> Option<Leader> {
    kv.map(|kv| Leader {
        key: text(kv.key()),
        name: text(kv.value()),
        revision: kv.create_revision(),
    })
}

/// Puts this node's key on its lease unless it exists, and reads back its create
/// revision and the leader, in one transaction.
pub async fn campaign(
    mut client: Client,
    election: &str,
    key: &str,
    value: &str,
    lease: i64,
) -> EtcdResult<Reply> {
    let put = TxnOp::put(key, value, Some(PutOptions::new().with_lease(lease)));
    let txn = Txn::new()
        .when([Compare::create_revision(key, CompareOp::Equal, 0)])
        .and_then([put, TxnOp::get(key, None), leader_query(election)])
        .or_else([TxnOp::get(key, None), leader_query(election)]);
    let r = client.txn(txn).await?;
    let read = r.header().map(|h| h.revision()).unwrap_or(0);
    let gets: Vec<GetResponse> = (r.op_responses().into_iter())
        .filter_map(|op| match op {
            TxnOpResponse::Get(g) => Some(g),
            _ => None,
        })
        .collect();
    let (Some(own), Some(first)) = (gets.first(), gets.get(1)) else {
        return Err(etcd_client::Error::InvalidArgs(
            "etcd's answer to the campaign lacks its reads".into(),
        ));
    };
    Ok(Reply::Campaigned {
        revision: own
            .kvs()
            .first()
            .map(|kv| kv.create_revision())
            .unwrap_or(0),
        leader: leader_of(first.kvs().first()),
        read,
    })
}

/// The election's leader and the store revision it was read at.
pub async fn leader(mut client: Client, election: &str) -> EtcdResult<(Option<Leader>, i64)> {
    let r = client.get(election, Some(first_by_create())).await?;
    let read = r.header().map(|h| h.revision()).unwrap_or(0);
    Ok((leader_of(r.kvs().first()), read))
}

pub async fn resign(mut client: Client, key: &str) -> EtcdResult<Reply> {
    client.delete(key, None).await?;
    Ok(Reply::Resigned)
}

pub async fn revoke(mut client: Client, lease: i64) -> EtcdResult<Reply> {
    match client.lease_revoke(lease).await {
        Ok(_) => Ok(Reply::Revoked),
        // Already gone: what revoking wanted.
        Err(e) if e.to_string().contains("lease not found") => Ok(Reply::Revoked),
        Err(e) => Err(e),
    }
}

/// Whether an error says the connection (or the member's link to its cluster) failed,
/// rather than etcd refusing the request: the driver moves to the next endpoint.
pub fn is_transport(e: &etcd_client::Error) -> bool {
    use etcd_client::Error;
    // gRPC codes: CANCELLED 1, UNKNOWN 2, DEADLINE_EXCEEDED 4, ABORTED 10, UNAVAILABLE 14
    // ("etcdserver: no leader" is UNAVAILABLE).
    match e {
        Error::TransportError(_)
        | Error::IoError(_)
        | Error::LeaseKeepAliveError(_)
        | Error::WatchError(_) => true,
        Error::GRpcStatus(s) => matches!(i32::from(s.code()), 1 | 2 | 4 | 10 | 14),
        _ => false,
    }
}
