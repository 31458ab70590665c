"""TLS session resumption as Envoy configures it on a DownstreamTlsContext: tickets under
random keys by default, under session_ticket_keys read from files (so a restarted weir
resumes its predecessor's sessions, and keys rotate when the file changes), the session
cache (TLS 1.2 session ids), disable_stateless/stateful_session_resumption. openssl
s_client -sess_out/-sess_in is the client; a session never resumes on a chain with another
certificate (another SNI), nor on one whose server names only run together with its own."""
import base64
import json
import os
import re
import subprocess

from test_tls import certs, start, tls_config, tls_socket  # noqa: F401
from weir_harness import WEIR_BIN, free_port, request, stats, wait_for

REQUEST = b"GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n"


def connect(port, session, *args, resume=False):
    """One s_client handshake and request; the session is written to (or read from)
    `session`. Returns (reused, output)."""
    flag = "-sess_in" if resume else "-sess_out"
    proc = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", flag,
                           str(session), "-ign_eof", *args], input=REQUEST, capture_output=True,
                          timeout=10)
    out = (proc.stdout + proc.stderr).decode(errors="replace")
    assert "hello over tls" in out, out
    return bool(re.search(r"^Reused, TLS", out, re.M)), out


def ticket_socket(certs, key_files=(), extra=""):
    text = tls_socket(certs / "a.pem", certs / "a.key")
    if key_files:
        keys = ", ".join(f"{{filename: {k}}}" for k in key_files)
        text += f"""
              session_ticket_keys:
                keys: [{keys}]"""
    return text + extra


def test_tls13_and_tls12_sessions_resume_and_never_across_names(certs, tmp_path):
    chains = [(["a.example"], tls_socket(certs / "a.pem", certs / "a.key"), ""),
              (["b.example"], tls_socket(certs / "b.pem", certs / "b.key"), "")]
    listen, admin = free_port(), free_port()
    with start(tls_config(listen, admin, 1, chains, direct=True), listen, admin):
        for version in ("-tls1_3", "-tls1_2"):
            session = tmp_path / f"s{version}"
            reused, out = connect(listen, session, version, "-servername", "a.example")
            assert not reused and session.stat().st_size > 0
            reused, out = connect(listen, session, version, "-servername", "a.example",
                                  resume=True)
            assert reused, out
            # The same session offered for another name: a full handshake, b's certificate.
            reused, out = connect(listen, session, version, "-servername", "b.example",
                                  resume=True)
            assert not reused and "subject=CN = b.example" in out, out
        s = stats(admin)
        assert s[f"listener.127.0.0.1_{listen}.ssl.session_reused"] == "2"


def test_ticket_keys_from_files_outlive_a_restart_and_rotate(certs, tmp_path):
    """Envoy's rotation: keys[0] encrypts, the others still decrypt; a key file changed
    on disk is read again (as certificates are)."""
    current, previous = tmp_path / "current.key", tmp_path / "previous.key"
    current.write_bytes(os.urandom(80))
    previous.write_bytes(os.urandom(80))
    listen, admin = free_port(), free_port()
    cfg = tls_config(listen, admin, 1, [(None, ticket_socket(certs, (current, previous)), "")],
                     direct=True)
    old = tmp_path / "old-session"
    with start(cfg, listen, admin):
        assert not connect(listen, old)[0]
    # Another weir process with the same key files takes the first one's ticket.
    with start(cfg, listen, admin) as weir:
        assert connect(listen, old, resume=True)[0]

        def rewrite(path, data, reloads):
            path.write_bytes(data)
            wait_for(lambda: weir.logs().count("TLS certificates reloaded from disk") == reloads,
                     what=f"reload {reloads}")

        # Rotation: the current key becomes the previous one, a new key encrypts.
        rewrite(previous, current.read_bytes(), 1)
        rewrite(current, os.urandom(80), 2)
        assert connect(listen, old, resume=True)[0]
        new = tmp_path / "new-session"
        connect(listen, new)
        # The old key retired: its tickets no longer open; the new key's do.
        rewrite(previous, os.urandom(80), 3)
        assert not connect(listen, old, resume=True)[0]
        assert connect(listen, new, resume=True)[0]
        # A key file that is not 80 bytes is refused; the keys in service stay.
        current.write_bytes(b"short")
        wait_for(lambda: "do not load" in weir.logs(), what="the refused key")
        assert connect(listen, new, resume=True)[0]
        assert weir.proc.poll() is None


def test_disabled_resumption_never_resumes(certs, tmp_path):
    extra = """
              disable_stateless_session_resumption: true
              disable_stateful_session_resumption: true"""
    listen, admin = free_port(), free_port()
    cfg = tls_config(listen, admin, 1, [(None, ticket_socket(certs, extra=extra), "")],
                     direct=True)
    with start(cfg, listen, admin):
        # No ticket and no cached session id: s_client has no resumable session to write.
        for version in ("-tls1_3", "-tls1_2"):
            session = tmp_path / f"s{version}"
            connect(listen, session, version)
            assert not session.exists()
    # Stateless off, cache on: TLS 1.2 resumes by session id.
    extra = "\n              disable_stateless_session_resumption: true"
    listen, admin = free_port(), free_port()
    cfg = tls_config(listen, admin, 1, [(None, ticket_socket(certs, extra=extra), "")],
                     direct=True)
    with start(cfg, listen, admin):
        session = tmp_path / "by-id"
        connect(listen, session, "-tls1_2", "-no_ticket")
        assert connect(listen, session, "-tls1_2", "-no_ticket", resume=True)[0]


def test_bad_resumption_config_fails_at_its_line(certs, tmp_path):
    short = tmp_path / "short.key"
    short.write_bytes(os.urandom(79))
    listen, admin = free_port(), free_port()
    for socket_text, message in [
        (ticket_socket(certs, [short]), "a session ticket key is 80 bytes"),
        (ticket_socket(certs, [short], "\n              disable_stateless_session_resumption: "
                                     "true"), "is 80 bytes"),
        (ticket_socket(certs, extra="\n              session_timeout: 5000000000s"),
         "must be under 2^32 seconds"),
    ]:
        cfg = tmp_path / "c.yaml"
        cfg.write_text(tls_config(listen, admin, 1, [(None, socket_text, "")], direct=True))
        out = subprocess.run([str(WEIR_BIN), "-c", str(cfg), "--mode", "validate"],
                             capture_output=True, text=True, timeout=30)
        msg = out.stdout + out.stderr
        assert out.returncode != 0 and message in msg, msg
        assert re.search(re.escape(str(cfg)) + r":\d+:\d+", msg), msg
    key = tmp_path / "ok.key"
    key.write_bytes(os.urandom(80))
    cfg.write_text(tls_config(listen, admin, 1, [(None, ticket_socket(
        certs, [key], "\n              disable_stateless_session_resumption: true"), "")],
        direct=True))
    out = subprocess.run([str(WEIR_BIN), "-c", str(cfg), "--mode", "validate"],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode != 0 and "one oneof" in out.stdout + out.stderr


def test_inline_ticket_key_works_and_is_redacted_in_config_dump(certs, tmp_path):
    secret = base64.b64encode(os.urandom(80)).decode()
    text = tls_socket(certs / "a.pem", certs / "a.key") + f"""
              session_ticket_keys:
                keys: [{{inline_bytes: {secret}}}]"""
    listen, admin = free_port(), free_port()
    with start(tls_config(listen, admin, 1, [(None, text, "")], direct=True), listen, admin):
        session = tmp_path / "s"
        connect(listen, session)
        assert connect(listen, session, resume=True)[0]
        status, _, body = request(admin, path="/config_dump")
        assert status == 200
        assert secret not in body.decode() and "[redacted]" in json.dumps(json.loads(body))


def test_chains_whose_names_only_run_together_do_not_share_sessions(certs, tmp_path):
    """Two chains with the same certificate, server_names ["one.example"] and ["one",
    ".example"]: the names are part of what a session was established under, each kept
    apart, so a session from the first is not resumed on the second."""
    same = tls_socket(certs / "a.pem", certs / "a.key")
    chains = [(["one.example"], same, ""), (["one", ".example"], same, "")]
    listen, admin = free_port(), free_port()
    with start(tls_config(listen, admin, 1, chains, direct=True), listen, admin):
        # TLS 1.2 session ids: the listener's one session cache serves both chains, so only
        # the session-id context keeps them apart (tickets are under each chain's keys).
        for version in ("-tls1_2", "-tls1_3"):
            session = tmp_path / f"s{version}"
            args = (version, "-no_ticket") if version == "-tls1_2" else (version,)
            reused, out = connect(listen, session, *args, "-servername", "one.example")
            assert not reused and session.stat().st_size > 0
            reused, out = connect(listen, session, *args, "-servername", "one.example",
                                  resume=True)
            assert reused, out
            reused, out = connect(listen, session, *args, "-servername", "one", resume=True)
            assert not reused, out
