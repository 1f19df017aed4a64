vcl 4.1;
# Varnish as the shield in front of hlsd's built-in origin: LL-HLS without added latency.
#
# Debian 12: apt-get install varnish (7.1); copy this file to /etc/varnish/hlsd.vcl, set
# the origin's port below (hlsd's `http: listen/port`), and in a drop-in for the unit
# (`systemctl edit varnish`) its -f and the port players connect to (-a); check it with
# `varnishd -C -f /etc/varnish/hlsd.vcl >/dev/null 2>&1 && echo ok`, then `systemctl
# restart varnish` (README: "The Varnish shield"). Players open http://HOST:PORT/live.m3u8
# (and the player page at /); hlsd's admin routes stay on its admin listener
# (http.admin_port), which monitoring asks directly.
#
# Why Varnish for LL-HLS: a thousand players blocked on the next part ask for the same
# URL. Varnish sends one request to the origin and parks the others on the object's
# waiting list; the moment the origin's answer (headers) arrives it wakes them all, and
# they are served from the object as it streams in. That holds only for cacheable answers
# (a TTL-0 or no-cache answer wakes the waiting list one request at a time: each becomes
# the next origin request), so hlsd sends every blocking answer with a max-age (six target
# durations) and this file keeps it.
#
# The rules:
# - playlists: the whole URL (path and query) is the key: `live_hi.m3u8?_HLS_msn=17&
#   _HLS_part=2` and `live_hi.m3u8` are different answers; lifetimes are the origin's
#   Cache-Control (blocking answers: 6 target durations; the plain playlist: 1 s);
# - a blocking answer is never served stale (grace 0): once expired, it is fetched again;
#   the plain playlist may be served up to 1 s stale while one request refreshes it;
# - parts, segments, init segments: cached by name (a query is dropped), kept as the
#   origin says (a year: a name is never reused), streamed to players as they arrive;
# - 4xx/5xx are not cached, and do not serialise the players waiting for them;
# - Accept-Encoding: hlsd sends playlists gzipped to those who accept it; Varnish keeps the
#   gzip copy only and unzips it for a client that does not (one object, one origin
#   request), and tells downstream caches `Vary: Accept-Encoding`;
# - hlsd's internals (/metrics, /info.json, /healthz) are not served to viewers;
# - X-Cache: HIT (from the cache, or after waiting for the one origin request), MISS (this
#   request went to the origin), HIT-STALE (the plain playlist in its grace second), PASS,
#   SYNTH (answered here); X-Cache-Hits: how often the object was served.

backend hlsd {
    .host = "127.0.0.1";
    .port = "8080";  # hlsd's origin (http: listen, port)
    .connect_timeout = 2s;
    # A blocking reload is held by the origin up to 3 target durations: wait longer than
    # that (targets up to 8 s) for its first byte.
    .first_byte_timeout = 30s;
    .between_bytes_timeout = 10s;
}

sub vcl_recv {
    if ((req.method != "GET" && req.method != "HEAD") || req.http.Authorization) {
        return (pass);
    }
    if (req.url ~ "^/(metrics|info\.json|healthz)(\?|$)") {
        # the daemon's internals: ask the origin's admin listener directly
        return (synth(404));
    }
    unset req.http.Cookie;  # hlsd uses none; a stray one must not defeat the cache
    if (req.url ~ "^[^?]*\.key(\?|$)") {
        return (pass);  # keys: private, no-store
    }
    if (req.url ~ "^[^?]*\.(m4s|ts|mp4|aac|vtt)\?") {
        set req.url = regsub(req.url, "\?.*$", "");  # media: by name
    }
    return (hash);
}

sub vcl_hash {
    # One origin behind this cache: the Host a player used does not split it.
    hash_data(req.url);
    return (lookup);
}

sub vcl_hit {
    if (obj.ttl <= 0s) {
        set req.http.X-Cache = "HIT-STALE";  # a plain playlist in its grace second
    } else {
        set req.http.X-Cache = "HIT";
    }
}

sub vcl_miss {
    set req.http.X-Cache = "MISS";
}

sub vcl_pass {
    set req.http.X-Cache = "PASS";
}

sub vcl_backend_response {
    if (beresp.status >= 400) {
        # Not cached; for a moment this key's requests go to the origin each (hit-for-miss)
        # instead of queueing one after the other behind every error.
        set beresp.ttl = 1s;
        set beresp.grace = 0s;
        set beresp.uncacheable = true;
        return (deliver);
    }
    if (beresp.http.Vary == "Accept-Encoding") {
        unset beresp.http.Vary;  # one (gzip) object; unzipped on delivery where needed
    }
    if (bereq.url ~ "^[^?]*\.m3u8\?(.*&)?_HLS_msn=") {
        set beresp.grace = 0s;  # a blocking answer is never served stale
        set beresp.keep = 0s;
    } elsif (bereq.url ~ "^[^?]*\.m3u8") {
        set beresp.grace = 1s;
        set beresp.keep = 0s;
    } elsif (bereq.url ~ "^[^?]*\.(m4s|ts|mp4|aac|vtt)$") {
        set beresp.do_stream = true;
        set beresp.grace = 10s;
    }
    # The rest (the player page: no-cache; stream.json: max-age=1; hls.js: a day) as the
    # origin says, through the built-in rules.
}

sub vcl_deliver {
    set resp.http.X-Cache = req.http.X-Cache;
    set resp.http.X-Cache-Hits = obj.hits;
    if (resp.http.Content-Type ~ "mpegurl") {
        set resp.http.Vary = "Accept-Encoding";
    }
    unset resp.http.Via;
    unset resp.http.X-Varnish;
}

sub vcl_synth {
    set resp.http.X-Cache = "SYNTH";
    set resp.http.Cache-Control = "no-store";
    if (resp.status == 404) {
        set resp.http.Content-Type = "text/plain; charset=utf-8";
        set resp.body = "Not Found" + {"
"};
        return (deliver);
    }
}
