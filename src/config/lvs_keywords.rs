//! lvs_keywords: which keywords keepalived 2.2.7 accepts in each block of its
//! LVS side, so that baton can report a misspelt one where keepalived does.
//!
//! The lists come from `man keepalived.conf` (2.2.7) and from running
//! `keepalived -t` on small files of our own, one candidate keyword per line in
//! each block. Where the two disagree the run wins: keepalived 2.2.7 also
//! accepts `hashed` and `weight` in a virtual_server, and does not know
//! `dynamic` in FILE_CHECK, which its manual lists. Names are compared
//! exactly: keepalived does not fold case.

/// Options every network checker accepts (the connection and the timing).
const CHECKER_COMMON: &[&str] = &[
    "connect_ip",
    "connect_port",
    "bindto",
    "bind_port",
    "bind_if",
    "fwmark",
    "connect_timeout",
    "alpha",
    "retry",
    "delay_before_retry",
    "warmup",
    "delay_loop",
    "log_all_failures",
];

/// The checker blocks a real_server may hold.
const CHECKERS: &[&str] = &[
    "HTTP_GET",
    "SSL_GET",
    "TCP_CHECK",
    "SMTP_CHECK",
    "DNS_CHECK",
    "MISC_CHECK",
    "BFD_CHECK",
    "PING_CHECK",
    "UDP_CHECK",
    "FILE_CHECK",
];

/// What one LVS block accepts: its own keywords, the common checker options
/// when it is a network checker, and the blocks it may contain.
pub struct BlockKeywords {
    pub block: &'static str,
    pub keywords: &'static [&'static str],
    pub checker_common: bool,
    pub blocks: &'static [&'static str],
}

/// Every LVS block baton knows the grammar of. A block not listed here (for
/// example one keepalived itself does not know) is not checked.
pub const TABLE: &[BlockKeywords] = &[
    BlockKeywords {
        block: "virtual_server",
        keywords: &[
            "lvs_sched",
            "lb_algo",
            "lvs_method",
            "lb_kind",
            "flag-1",
            "flag-2",
            "flag-3",
            "sh-port",
            "sh-fallback",
            "mh-port",
            "mh-fallback",
            "ops",
            "hashed",
            "persistence_engine",
            "persistence_timeout",
            "persistence_granularity",
            "protocol",
            "ha_suspend",
            "smtp_alert",
            "virtualhost",
            "snmp_name",
            "alpha",
            "omega",
            "quorum",
            "hysteresis",
            "quorum_up",
            "quorum_down",
            "ip_family",
            "sorry_server",
            "sorry_server_inhibit",
            "sorry_server_lvs_method",
            "connect_timeout",
            "retry",
            "delay_before_retry",
            "warmup",
            "delay_loop",
            "inhibit_on_failure",
            "weight",
        ],
        checker_common: false,
        blocks: &["real_server"],
    },
    BlockKeywords {
        block: "real_server",
        keywords: &[
            "weight",
            "lvs_method",
            "notify_up",
            "notify_down",
            "uthreshold",
            "lthreshold",
            "smtp_alert",
            "virtualhost",
            "snmp_name",
            "alpha",
            "connect_timeout",
            "retry",
            "delay_before_retry",
            "warmup",
            "delay_loop",
            "inhibit_on_failure",
        ],
        checker_common: false,
        blocks: CHECKERS,
    },
    BlockKeywords {
        block: "HTTP_GET",
        keywords: HTTP_GET,
        checker_common: true,
        blocks: &["url"],
    },
    BlockKeywords {
        block: "SSL_GET",
        keywords: HTTP_GET,
        checker_common: true,
        blocks: &["url"],
    },
    BlockKeywords {
        block: "url",
        keywords: &[
            "path",
            "digest",
            "status_code",
            "virtualhost",
            "regex",
            "regex_no_match",
            "regex_options",
            "regex_stack",
            "regex_min_offset",
            "regex_max_offset",
        ],
        checker_common: false,
        blocks: &[],
    },
    BlockKeywords {
        block: "TCP_CHECK",
        keywords: &[],
        checker_common: true,
        blocks: &[],
    },
    BlockKeywords {
        block: "SMTP_CHECK",
        keywords: &["helo_name"],
        checker_common: true,
        blocks: &["host"],
    },
    // SMTP_CHECK's older way of naming the server to talk to.
    BlockKeywords {
        block: "host",
        keywords: &[],
        checker_common: true,
        blocks: &[],
    },
    BlockKeywords {
        block: "DNS_CHECK",
        keywords: &["type", "name"],
        checker_common: true,
        blocks: &[],
    },
    // A program, not a connection: the timing options only.
    BlockKeywords {
        block: "MISC_CHECK",
        keywords: &[
            "misc_path",
            "misc_timeout",
            "misc_dynamic",
            "user",
            "alpha",
            "retry",
            "delay_before_retry",
            "warmup",
            "delay_loop",
            "log_all_failures",
        ],
        checker_common: false,
        blocks: &[],
    },
    BlockKeywords {
        block: "BFD_CHECK",
        keywords: &["name", "alpha"],
        checker_common: false,
        blocks: &[],
    },
    BlockKeywords {
        block: "PING_CHECK",
        keywords: &[],
        checker_common: true,
        blocks: &[],
    },
    BlockKeywords {
        block: "UDP_CHECK",
        keywords: &[
            "payload",
            "require_reply",
            "min_reply_length",
            "max_reply_length",
        ],
        checker_common: true,
        blocks: &[],
    },
    BlockKeywords {
        block: "FILE_CHECK",
        keywords: &["track_file", "weight"],
        checker_common: false,
        blocks: &[],
    },
    // The top-level block of TLS settings for SSL_GET.
    BlockKeywords {
        block: "SSL",
        keywords: &["password", "ca", "certificate", "key"],
        checker_common: false,
        blocks: &[],
    },
];

/// HTTP_GET and SSL_GET take the same keywords (SNI included in both);
/// nb_get_retry is still read there, as a deprecated retry.
const HTTP_GET: &[&str] = &[
    "http_protocol",
    "fast_recovery",
    "virtualhost",
    "enable_sni",
    "nb_get_retry",
];

/// What keepalived makes of `keyword` inside the LVS block `block`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Known {
    /// A plain keyword of that block.
    Keyword,
    /// A block keepalived accepts inside that block.
    Block,
    /// keepalived reports it as an unknown keyword.
    Unknown,
    /// baton does not know the grammar of `block`.
    NotChecked,
}

/// Look `keyword` up in the table for `block`.
pub fn lookup(block: &str, keyword: &str) -> Known {
    let Some(b) = TABLE.iter().find(|b| b.block == block) else {
        return Known::NotChecked;
    };
    if b.blocks.contains(&keyword) {
        Known::Block
    } else if b.keywords.contains(&keyword)
        || (b.checker_common && CHECKER_COMMON.contains(&keyword))
    {
        Known::Keyword
    } else {
        Known::Unknown
    }
}
