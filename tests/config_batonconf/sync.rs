//! The data sync statements of the link block: what they read into `LinkConf`, and each
//! mistake at its file:line:col.

use std::path::PathBuf;
use std::time::Duration;

use baton::config::baton::{LinkConf, SyncDir};
use baton::config::load_all;

use super::{Files, KCONF, one_error, opts};

fn link_of(text: &str) -> LinkConf {
    let f = Files::new();
    let kconf = format!(
        "{KCONF}vrrp_sync_group G {{\n    group {{\n        VI_1\n        VI_2\n    }}\n}}\n"
    );
    let k = f.write("keepalived.conf", &kconf);
    let b = f.write("baton.conf", text);
    let (c, d) = load_all(&k, &opts(Some(&b)));
    assert!(d.iter().all(|d| !d.is_error()), "{d:#?}");
    c.unwrap().baton.link.unwrap()
}

#[test]
fn sync_dirs_read_into_the_link_block_with_their_settings() {
    let l = link_of(
        "link {\n listen 10.0.0.1\n sync_dir /opt/neuronex/data instance VI_1\n \
         sync_dir /srv/gw group G\n sync_interval 5\n sync_max_file_size 200M\n}\n\
         ",
    );
    assert_eq!(
        l.sync_dirs,
        vec![
            SyncDir {
                path: PathBuf::from("/opt/neuronex/data"),
                instance: Some("VI_1".into()),
                group: None,
            },
            SyncDir {
                path: PathBuf::from("/srv/gw"),
                instance: None,
                group: Some("G".into()),
            },
        ]
    );
    assert_eq!(l.sync_interval(), Duration::from_secs(5));
    assert_eq!(l.sync_max_file_size(), 200 << 20);
    let defaults = link_of("link {\n listen 10.0.0.1\n}\n");
    assert!(defaults.sync_dirs.is_empty());
    assert_eq!(defaults.sync_interval(), Duration::from_secs(60));
    assert_eq!(defaults.sync_max_file_size(), 1 << 30);
}

#[test]
fn sync_mistakes_are_errors_where_written() {
    let head = "link {\n listen 10.0.0.1\n";
    let cases: &[(&str, (u32, u32), &str)] = &[
        (
            " sync_dir data instance VI_1\n",
            (3, 11),
            "must be an absolute path",
        ),
        (
            " sync_dir /opt/d/ instance VI_1\n",
            (3, 11),
            "without ., .. or a trailing /",
        ),
        (
            " sync_dir /opt/../d instance VI_1\n",
            (3, 11),
            "absolute path",
        ),
        (" sync_dir / instance VI_1\n", (3, 11), "other than /"),
        (
            " sync_dir /opt/d VI_1\n",
            (3, 2),
            "sync_dir takes a path and what it follows",
        ),
        (
            " sync_dir /opt/d instanse VI_1\n",
            (3, 18),
            "'instanse' is neither instance nor group",
        ),
        (
            " sync_dir /opt/d instance VI_1\n sync_dir /opt/d/sub instance VI_2\n",
            (4, 2),
            "is inside another sync_dir, or holds one (/opt/d at line 3)",
        ),
        (
            " sync_dir /opt/d instance VI_1\n sync_dir /opt/d instance VI_2\n",
            (4, 2),
            "is given twice",
        ),
        (
            " state_dir /opt/d/state\n sync_dir /opt/d instance VI_1\n",
            (4, 2),
            "must not be inside one another",
        ),
        (
            " sync_dir /opt/d instance VI_9\n",
            (3, 27),
            "keepalived.conf defines no vrrp_instance VI_9",
        ),
        (
            " sync_dir /opt/d group G9\n",
            (3, 24),
            "keepalived.conf defines no vrrp_sync_group G9",
        ),
        (
            " sync_interval 0.5\n",
            (3, 16),
            "between 1 and 86400 seconds",
        ),
        (
            " sync_max_file_size 0\n",
            (3, 21),
            "sync_max_file_size must be a number of bytes",
        ),
        (" sync_max_file_size 10X\n", (3, 21), "got '10X'"),
    ];
    for (body, (line, col), want) in cases {
        let text = format!("{head}{body}}}\n");
        let (l, c, m) = one_error(&text);
        assert!(m.contains(want), "{text}: {m}");
        assert_eq!((l, c), (*line, *col), "{text}: {m}");
    }
}
