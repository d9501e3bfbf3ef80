"""Policy against the real daemon over real sockets: Postfix-style relay
control with XCLIENT and PROXY v1/v2 playing outside clients, connection
and message limits shared by several workers, soft and hard error limits,
the postscreen-like checks (early talkers, unadvertised pipelining,
non-SMTP clients), fault rules (reject, defer, delay, tarpit, throttle,
disconnect, discard, nth, probability with a seed, per-listener rules and
conditions), and the errors "smtptrapd -t" reports for bad policy.

Every refusal is checked by its exact code and text, and where a rule
decided it, by the log line naming the rule's line in the configuration.
"""

import base64
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from smtptrap_harness import SMTPTRAPD, Daemon, DaemonTest, envelope, main  # noqa: E402

MSG = "Subject: policy\r\n\r\nhello\r\n"
SLOW = 5.0   # upper bound for any single delayed reply


def line_of(config, marker):
    """The 1-based line of the configuration text that holds marker."""
    i = config.index(marker)
    return config.count("\n", 0, i) + 1


def rt(r):
    """A reply as (code, text), for exact comparisons."""
    return (r.code, r.text)


def plain(user, password):
    return base64.b64encode(("\0%s\0%s" % (user, password)).encode()).decode()


def proxy_v2(src="203.0.113.7", dst="127.0.0.1", sport=40000, dport=25, local=False):
    """A binary PROXY protocol v2 header: PROXY TCP4, or LOCAL."""
    sig = b"\r\n\r\n\x00\r\nQUIT\n"
    if local:
        return sig + bytes([0x20, 0x00]) + struct.pack("!H", 0)
    body = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!HH", sport, dport)
    return sig + bytes([0x21, 0x11]) + struct.pack("!H", len(body)) + body


class PolicyTest(DaemonTest):
    """A daemon with CONFIG's own listeners (none from the command line)."""

    LISTEN = None

    def setUp(self):
        if self.LISTEN is None:
            self.d = Daemon(self.CONFIG, self.ARGS, listen=())
        else:
            self.d = Daemon(self.CONFIG, self.ARGS)
        self.clients = []

    def on(self, listener=None, greet=True):
        port = self.d.port_of[listener] if listener else None
        return self.connect(greet=greet, port=port)

    def rule_line(self, marker):
        return line_of(self.CONFIG, marker)

    def timed(self, c, line):
        t0 = time.monotonic()
        r = c.cmd(line)
        return r, time.monotonic() - t0

    def send_message(self, c, body=MSG):
        self.assertEqual(c.cmd("DATA").code, 354)
        c.send(body + ".\r\n")
        return c.reply()

    def assert_closed_silently(self, c):
        self.assertTrue(c.closed(), "connection still open")
        self.assertEqual(c.buf, b"", "bytes sent before closing")


# --- 1. relay control, XCLIENT, PROXY ---------------------------------------

RELAY = """
server = { hostname = "mx.test"; };
listeners = (
    { name = "smtp"; port = 0; tls = "none"; auth_without_tls = true; },
    { name = "v1"; port = 0; tls = "none"; proxy = "v1"; auth_without_tls = true; },
    { name = "v2"; port = 0; tls = "none"; proxy = "v2"; },
    { name = "anyproxy"; port = 0; tls = "none"; proxy = "any"; }
);
auth = { users = ( { name = "alice"; password = "secret"; } ); };
timeouts = { proxy = 2; command = 5; };
classes = {
    mynetworks = [ "127.0.0.0/8", "10.0.0.0/8", "::1/128" ];
};
domains = {
    local = [ "example.com" ];
    relay = [ "partner.example", ".partner.example" ];
};
policy = { xclient_allowed = "mynetworks"; };
rules = (
    { stage = "rcpt"; client = "mynetworks"; action = "accept"; },
    { stage = "rcpt"; authenticated = true; action = "accept"; },
    { stage = "rcpt"; rcpt_domain = "local"; action = "accept"; },
    { stage = "rcpt"; rcpt_domain = "relay"; action = "accept"; },
    { stage = "rcpt"; action = "reject"; code = 554; status = "5.7.1"; text = "<%r>: Relay access denied"; }
);
"""

FOREIGN = "x@elsewhere.example"
DENIED = (554, "5.7.1 <x@elsewhere.example>: Relay access denied")
XCLIENT_EHLO = "XCLIENT ADDR NAME HELO LOGIN PROTO PORT"


class Relay(PolicyTest):
    CONFIG = RELAY

    def rcpts(self, c, helo=True):
        """Replies to one foreign, one local and two relay recipients."""
        if helo:
            self.assertEqual(self.ehlo(c).code, 250)
        self.assertEqual(c.cmd("MAIL FROM:<a@spam.example>").code, 250)
        out = []
        for r in (FOREIGN, "bob@example.com", "y@mx.partner.example", "z@partner.example"):
            rep = c.cmd("RCPT TO:<%s>" % r)
            out.append((rep.code, rep.text))
        return out

    def assert_outside(self, replies):
        self.assertEqual(replies, [DENIED, (250, "2.1.5 Ok"), (250, "2.1.5 Ok"), (250, "2.1.5 Ok")])

    def assert_inside(self, replies):
        self.assertEqual([r[0] for r in replies], [250, 250, 250, 250])

    def test_internal_client_relays(self):
        c = self.on("smtp")
        r = self.ehlo(c)
        self.assertIn(XCLIENT_EHLO, r.lines)
        self.assert_inside(self.rcpts(c, helo=False))
        self.assertEqual(self.send_message(c).code, 250)
        (_, data), = self.wait_messages(1)
        self.assertEqual(envelope(data), ("a@spam.example", [FOREIGN, "bob@example.com",
                                                              "y@mx.partner.example",
                                                              "z@partner.example"]))
        self.assertIn(b"([127.0.0.1])", data)

    def test_xclient_plays_outside_client(self):
        c = self.on("smtp")
        self.assertEqual(self.ehlo(c).code, 250)
        r = c.cmd("XCLIENT ADDR=203.0.113.7 NAME=spam.example")
        self.assertEqual((r.code, r.text), (220, "mx.test ESMTP smtptrapd"))
        self.d.wait_log(r"\[203\.0\.113\.7\]:\d+ xclient previous=\[127\.0\.0\.1\]:\d+ name=spam\.example$")
        # Back at the start: EHLO first.
        r = c.cmd("MAIL FROM:<a@spam.example>")
        self.assertEqual((r.code, r.text), (503, "5.5.1 Error: send HELO/EHLO first"))
        self.assert_outside(self.rcpts(c))
        self.d.wait_log(r'\[203\.0\.113\.7\]:\d+ reject code=554 status=5\.7\.1 stage=rcpt rule=%d '
                        r'cmd="RCPT TO:<x@elsewhere\.example>" reason="<x@elsewhere\.example>: '
                        r'Relay access denied' % self.rule_line("Relay access denied"))
        # The accepted recipients get the message; the refused one does not.
        self.assertEqual(self.send_message(c).code, 250)
        (_, data), = self.wait_messages(1)
        self.assertEqual(envelope(data)[1], ["bob@example.com", "y@mx.partner.example",
                                             "z@partner.example"])
        self.assertIn(b"[203.0.113.7]", data)

    def test_auth_after_xclient_relays_again(self):
        c = self.on("smtp")
        self.assertEqual(self.ehlo(c).code, 250)
        self.assertEqual(c.cmd("XCLIENT ADDR=203.0.113.7").code, 220)
        self.assertEqual(self.ehlo(c).code, 250)
        self.assertEqual(c.cmd("MAIL FROM:<a@spam.example>").code, 250)
        self.assertEqual(rt(c.cmd("RCPT TO:<%s>" % FOREIGN)), DENIED)
        self.assertEqual(c.cmd("RSET").code, 250)
        self.assertEqual(c.cmd("AUTH PLAIN " + plain("alice", "secret")).code, 235)
        self.assert_inside(self.rcpts(c, helo=False))

    def test_xclient_login_is_authenticated(self):
        c = self.on("smtp")
        self.assertEqual(self.ehlo(c).code, 250)
        self.assertEqual(c.cmd("XCLIENT ADDR=203.0.113.7 LOGIN=alice").code, 220)
        self.d.wait_log(r"\[203\.0\.113\.7\]:\d+ xclient previous=\[127\.0\.0\.1\]:\d+ login=alice$")
        self.assert_inside(self.rcpts(c))
        # LOGIN=[UNAVAILABLE] takes it back.
        self.assertEqual(c.cmd("RSET").code, 250)
        self.assertEqual(c.cmd("XCLIENT LOGIN=[UNAVAILABLE]").code, 220)
        self.assert_outside(self.rcpts(c))

    def test_xclient_inside_transaction_and_bad_syntax(self):
        c = self.on("smtp")
        self.assertEqual(self.ehlo(c).code, 250)
        for line, why in (("XCLIENT", "bad syntax"),
                          ("XCLIENT FOO=bar", "unknown attribute FOO"),
                          ("XCLIENT ADDR=999.1.2.3", "bad ADDR value"),
                          ("XCLIENT NAME=a NAME=b", "duplicate attribute NAME"),
                          ("XCLIENT HELO=a+ZZ", "bad xtext in HELO")):
            self.assertEqual(rt(c.cmd(line)), (501, "5.5.4 Bad XCLIENT attribute: " + why))
        self.assertEqual(c.cmd("MAIL FROM:<a@example.com>").code, 250)
        r = c.cmd("XCLIENT ADDR=203.0.113.7")
        self.assertEqual((r.code, r.text), (503, "5.5.1 Error: MAIL transaction in progress"))
        # Nothing changed: still the internal client, transaction intact.
        r = c.cmd("RCPT TO:<%s>" % FOREIGN)
        self.assertEqual(r.code, 250)
        self.assertEqual(self.d.find_all(r" xclient "), [])

    def test_xclient_rset_does_not_skip_ehlo(self):
        """After XCLIENT the session is back at the start, as after connecting:
        RSET there leaves it waiting for HELO/EHLO, so MAIL is still 503."""
        fresh = self.on("smtp")
        self.assertEqual(fresh.cmd("RSET").code, 250)
        r = fresh.cmd("MAIL FROM:<a@spam.example>")
        self.assertEqual((r.code, r.text), (503, "5.5.1 Error: send HELO/EHLO first"))
        c = self.on("smtp")
        self.assertEqual(self.ehlo(c).code, 250)
        self.assertEqual(c.cmd("XCLIENT ADDR=203.0.113.7").code, 220)
        self.assertEqual(c.cmd("RSET").code, 250)
        r = c.cmd("MAIL FROM:<a@spam.example>")
        self.assertEqual((r.code, r.text), (503, "5.5.1 Error: send HELO/EHLO first"))

    def test_proxy_v1(self):
        c = self.on("v1", greet=False)
        c.send("PROXY TCP4 203.0.113.7 127.0.0.1 40000 25\r\n")
        r = c.reply()
        self.assertEqual((r.code, r.text), (220, "mx.test ESMTP smtptrapd"))
        self.d.wait_log(r"\[203\.0\.113\.7\]:40000 proxy previous=\[127\.0\.0\.1\]:\d+$")
        r = self.ehlo(c)
        # The outside client is not allowed XCLIENT.
        self.assertNotIn(XCLIENT_EHLO, r.lines)
        self.assertEqual(c.cmd("XCLIENT ADDR=127.0.0.1").code, 550)
        self.assert_outside(self.rcpts(c, helo=False))
        self.assertEqual(self.send_message(c).code, 250)
        (_, data), = self.wait_messages(1)
        self.assertIn(b"([203.0.113.7])", data)
        # Authenticated, the same outside client may relay.
        self.assertEqual(c.cmd("AUTH PLAIN " + plain("alice", "secret")).code, 235)
        self.assert_inside(self.rcpts(c, helo=False))

    def test_proxy_v2(self):
        c = self.on("v2", greet=False)
        c.send(proxy_v2(sport=40002))
        self.assertEqual(c.reply().code, 220)
        self.d.wait_log(r"\[203\.0\.113\.7\]:40002 proxy previous=\[127\.0\.0\.1\]:\d+$")
        self.assert_outside(self.rcpts(c))

    def test_proxy_any_accepts_both_versions(self):
        c = self.on("anyproxy", greet=False)
        c.send(proxy_v2(sport=40003))
        self.assertEqual(c.reply().code, 220)
        self.assert_outside(self.rcpts(c))
        c2 = self.on("anyproxy", greet=False)
        c2.send("PROXY TCP4 203.0.113.8 127.0.0.1 40004 25\r\n")
        self.assertEqual(c2.reply().code, 220)
        self.d.wait_log(r"\[203\.0\.113\.8\]:40004 proxy previous=\[127\.0\.0\.1\]:\d+$")

    def test_proxy_local_keeps_real_address(self):
        c = self.on("v2", greet=False)
        c.send(proxy_v2(local=True))
        self.assertEqual(c.reply().code, 220)
        r = self.ehlo(c)
        self.assertIn(XCLIENT_EHLO, r.lines)
        self.assert_inside(self.rcpts(c, helo=False))
        c2 = self.on("v1", greet=False)
        c2.send("PROXY UNKNOWN\r\n")
        self.assertEqual(c2.reply().code, 220)
        self.assert_inside(self.rcpts(c2))
        self.assertEqual(self.d.find_all(r" proxy previous="), [])

    def test_bad_proxy_header_closes_without_greeting(self):
        cases = [
            ("v1", b"EHLO client.example\r\n", "not a PROXY header"),
            ("v1", b"PROXY TCP4 203.0.113.999 127.0.0.1 40000 25\r\n", "bad v1 address"),
            ("v1", proxy_v2(), "PROXY v2 not allowed on this listener"),
            ("v2", b"PROXY TCP4 203.0.113.7 127.0.0.1 40000 25\r\n",
             "PROXY v1 not allowed on this listener"),
            ("v2", proxy_v2()[:13] + b"\x31" + proxy_v2()[14:], "unsupported v2 address family"),
        ]
        for listener, data, why in cases:
            with self.subTest(listener=listener, data=data):
                mark = self.d.log_mark()
                c = self.on(listener, greet=False)
                c.send(data)
                self.assert_closed_silently(c)
                m = self.d.wait_log(r' proxy result=failed reason="bad PROXY header: (.*)"$', start=mark)
                self.assertEqual(m.group(1), why)
        self.assertEqual(self.d.find_all(r" proxy previous="), [])

    def test_missing_proxy_header_times_out_silently(self):
        c = self.on("v2", greet=False)
        t0 = time.monotonic()
        self.assert_closed_silently(c)
        self.assertGreaterEqual(time.monotonic() - t0, 1.5)
        self.d.wait_log(r' proxy result=failed reason="no PROXY header within 2000 ms"$')


class XclientNotAllowed(PolicyTest):
    CONFIG = RELAY.replace('xclient_allowed = "mynetworks"', 'xclient_allowed = "proxies"').replace(
        'classes = {', 'classes = {\n    proxies = [ "192.0.2.0/24" ];')

    def test_refused_and_not_offered(self):
        c = self.on("smtp")
        r = self.ehlo(c)
        self.assertEqual(r.code, 250)
        self.assertNotIn(XCLIENT_EHLO, r.lines)
        r = c.cmd("XCLIENT ADDR=203.0.113.7")
        self.assertEqual((r.code, r.text), (550, "5.7.0 Error: insufficient authorization"))
        # Still the internal client.
        self.assertEqual(c.cmd("MAIL FROM:<a@example.com>").code, 250)
        self.assertEqual(c.cmd("RCPT TO:<%s>" % FOREIGN).code, 250)

    def test_allowed_through_proxy_header(self):
        # Who may use XCLIENT follows the address the PROXY header gave.
        c = self.on("v1", greet=False)
        c.send("PROXY TCP4 192.0.2.10 127.0.0.1 40000 25\r\n")
        self.assertEqual(c.reply().code, 220)
        self.assertIn(XCLIENT_EHLO, self.ehlo(c).lines)
        self.assertEqual(c.cmd("XCLIENT ADDR=203.0.113.7").code, 220)
        self.assertEqual(self.ehlo(c).code, 250)
        self.assertEqual(c.cmd("MAIL FROM:<a@example.com>").code, 250)
        r = c.cmd("RCPT TO:<%s>" % FOREIGN)
        self.assertEqual((r.code, r.text), DENIED)


# --- 2. limits across several workers ---------------------------------------

WORKERS = """
server = { hostname = "mx.test"; };
workers = { min_spare = 3; max_spare = 6; max_workers = 8; };
"""


class LimitTest(PolicyTest):
    LISTEN = True

    def greeted(self):
        c = self.connect(greet=False)
        return c, c.reply()

    def assert_refused(self, text):
        c, r = self.greeted()
        self.assertEqual((r.code, r.text), (421, "4.7.0 " + text))
        self.assertTrue(c.closed())

    def connect_until_greeted(self):
        """A new connection once a slot is free again (a worker marks
        itself idle just after its session ends)."""
        deadline = time.monotonic() + 10
        while True:
            c, r = self.greeted()
            if r.code == 220:
                return c
            self.assertLess(time.monotonic(), deadline, r)


class ConnectionsPerClient(LimitTest):
    CONFIG = WORKERS + "limits = { connections_per_client = 2; };"

    def test_third_connection_refused(self):
        a = self.connect()
        b = self.connect()
        self.assert_refused("mx.test Error: too many connections from [127.0.0.1]")
        self.d.wait_log(r"\[127\.0\.0\.1\]:\d+ reject code=421 status=4\.7\.0 stage=connect rule=- cmd=- "
                        r"limit=connections_per_client count=3 max=2 reason=")
        # The first two sessions are not disturbed.
        self.assertEqual(self.ehlo(a).code, 250)
        self.assertEqual(self.ehlo(b).code, 250)
        self.assertEqual(a.cmd("QUIT").code, 221)
        self.assertTrue(a.closed())
        c = self.connect_until_greeted()
        self.assertEqual(self.ehlo(c).code, 250)


class Connections(LimitTest):
    CONFIG = WORKERS + "limits = { connections = 2; };"

    def test_third_connection_refused(self):
        self.connect()
        self.connect()
        self.assert_refused("mx.test Error: too many connections, try again later")
        self.d.wait_log(r" reject code=421 status=4\.7\.0 stage=connect rule=- cmd=- limit=connections count=3 max=2 reason=")


class ConnectionRate(LimitTest):
    CONFIG = WORKERS + "limits = { connection_rate = 3; };"

    def test_fourth_connection_in_a_minute_refused(self):
        for _ in range(3):
            c = self.connect()
            self.assertEqual(c.cmd("QUIT").code, 221)
            self.assertTrue(c.closed())
        self.assert_refused("mx.test Error: too many connections from [127.0.0.1], slow down")
        self.d.wait_log(r"\[127\.0\.0\.1\]:\d+ reject code=421 status=4\.7\.0 stage=connect rule=- cmd=- "
                        r"limit=connection_rate max=3 reason=")


class MessageRate(LimitTest):
    CONFIG = WORKERS + "limits = { message_rate = 2; };"

    def test_third_mail_across_sessions_deferred(self):
        a = self.connect()
        self.start_tx(a)
        self.assertEqual(self.send_message(a).code, 250)
        b = self.connect()
        self.start_tx(b)
        self.assertEqual(self.send_message(b).code, 250)
        r = b.cmd("MAIL FROM:<alice@example.com>")
        self.assertEqual((r.code, r.text),
                         (450, "4.7.1 Error: too many messages from [127.0.0.1], slow down"))
        # The first session, on another worker, is limited as well.
        r = a.cmd("MAIL FROM:<alice@example.com>")
        self.assertEqual(r.code, 450)
        self.assertEqual(a.cmd("NOOP").code, 250)
        self.d.wait_log(r'\[127\.0\.0\.1\]:\d+ reject code=450 status=4\.7\.1 stage=mail rule=- '
                        r'cmd="MAIL FROM:<alice@example\.com>" limit=message_rate max=2 reason=')
        self.wait_messages(2)


class MessagesPerSession(LimitTest):
    CONFIG = WORKERS + "limits = { messages_per_session = 1; };"

    def test_second_mail_closes(self):
        c = self.connect()
        self.start_tx(c)
        self.assertEqual(self.send_message(c).code, 250)
        r = c.cmd("MAIL FROM:<alice@example.com>")
        self.assertEqual((r.code, r.text),
                         (421, "4.7.0 mx.test Error: too many messages in this session"))
        self.assertTrue(c.closed())
        self.d.wait_log(r' reject code=421 status=4\.7\.0 stage=mail rule=- cmd="MAIL FROM:<alice@example\.com>" '
                        r'limit=messages_per_session count=1 max=1 reason=')
        # A new session may send again.
        c2 = self.connect()
        self.start_tx(c2)
        self.assertEqual(self.send_message(c2).code, 250)
        self.wait_messages(2)


class ProxyLimits(LimitTest):
    LISTEN = None
    CONFIG = WORKERS + """
listeners = ( { name = "lb"; port = 0; tls = "none"; proxy = "v1"; } );
limits = { connections_per_client = 1; };
"""

    def via(self, addr, port):
        c = self.on("lb", greet=False)
        c.send("PROXY TCP4 %s 127.0.0.1 %d 25\r\n" % (addr, port))
        return c, c.reply()

    def test_limits_count_the_proxied_client(self):
        # Three connections from 127.0.0.1, two clients behind the proxy.
        a, r = self.via("203.0.113.7", 40001)
        self.assertEqual(r.code, 220)
        b, r = self.via("203.0.113.8", 40002)
        self.assertEqual(r.code, 220)
        c, r = self.via("203.0.113.7", 40003)
        self.assertEqual(rt(r), (421, "4.7.0 mx.test Error: too many connections from [203.0.113.7]"))
        self.assertTrue(c.closed())
        self.d.wait_log(r"\[203\.0\.113\.7\]:40003 reject code=421 status=4\.7\.0 stage=connect rule=- cmd=- "
                        r"limit=connections_per_client count=2 max=1 reason=")
        self.assertEqual(self.ehlo(a).code, 250)
        self.assertEqual(self.ehlo(b).code, 250)


# --- 3. error limits ----------------------------------------------------------

class SoftErrors(PolicyTest):
    LISTEN = True
    CONFIG = 'server = { hostname = "mx.test"; };\nlimits = { soft_errors = 2; error_delay = 0.3; errors = 10; };'

    def test_growing_delay(self):
        c = self.connect()
        times = []
        for n in range(1, 5):
            r, dt = self.timed(c, "BOGUS%d" % n)
            self.assertEqual((r.code, r.text), (500, "5.5.2 Error: command not recognized"))
            times.append(dt)
        self.assertGreaterEqual(times[2], 0.25, times)
        self.assertGreaterEqual(times[3], 0.5, times)
        for t in times:
            self.assertLess(t, SLOW, times)
        self.assertLess(times[0], 0.25, times)
        # A good command is delayed as well, since errors are counted per session.
        r, dt = self.timed(c, "NOOP")
        self.assertEqual(r.code, 250)
        self.assertGreaterEqual(dt, 0.7)


class HardErrors(PolicyTest):
    LISTEN = True
    CONFIG = """server = { hostname = "mx.test"; };
limits = { errors = 3; };
rules = ( { stage = "rcpt"; rcpt = "^bad"; action = "reject"; } );
"""

    def test_rule_rejections_count_as_errors(self):
        c = self.connect()
        self.assertEqual(self.ehlo(c).code, 250)
        self.assertEqual(c.cmd("MAIL FROM:<a@example.com>").code, 250)
        self.assertEqual(c.cmd("RCPT TO:<good@example.com>").code, 250)
        for n in (1, 2):
            r = c.cmd("RCPT TO:<bad%d@example.com>" % n)
            self.assertEqual((r.code, r.text),
                             (550, "5.7.1 <bad%d@example.com>: Recipient address rejected by policy" % n))
        c.send("RCPT TO:<bad3@example.com>\r\n")
        self.assertEqual(c.reply().code, 550)
        r = c.reply()
        self.assertEqual((r.code, r.text), (421, "4.7.0 mx.test Error: too many errors"))
        self.assertTrue(c.closed())
        self.assertEqual(self.d.messages("new"), [])


# --- 4. early talkers -----------------------------------------------------------

class EarlyTalker(PolicyTest):
    LISTEN = True
    CONFIG = 'server = { hostname = "mx.test"; };\nsmtp = { greeting_delay = 0.5; };'

    def test_talker_rejected(self):
        c = self.connect(greet=False)
        c.send("EHLO client.example\r\n")
        r = c.reply()
        self.assertEqual((r.code, r.text), (554, "5.5.1 mx.test Error: talking before the greeting"))
        self.assertTrue(c.closed())
        self.assertEqual(c.buf, b"")
        self.d.wait_log(r"\[127\.0\.0\.1\]:\d+ reject code=554 status=5\.5\.1 stage=connect rule=- cmd=- "
                        r"check=pregreet reason=")

    def test_polite_client_waits_for_greeting(self):
        t0 = time.monotonic()
        c = self.connect(greet=False)
        r = c.reply()
        dt = time.monotonic() - t0
        self.assertEqual((r.code, r.text), (220, "mx.test ESMTP smtptrapd"))
        self.assertGreaterEqual(dt, 0.45)
        self.assertLess(dt, SLOW)
        self.assertEqual(self.ehlo(c).code, 250)
        self.assertEqual(self.d.find_all(r"check=pregreet"), [])


class EarlyTalkerDrop(PolicyTest):
    LISTEN = True
    CONFIG = 'smtp = { greeting_delay = 0.5; early_talker = "drop"; };'

    def test_talker_dropped_silently(self):
        c = self.connect(greet=False)
        c.send("EHLO client.example\r\n")
        self.assert_closed_silently(c)
        self.d.wait_log(r"\[127\.0\.0\.1\]:\d+ drop stage=connect check=pregreet when=now$")


class EarlyTalkerAllowed(PolicyTest):
    LISTEN = True
    CONFIG = 'smtp = { greeting_delay = 0.5; early_talker = "allow"; };'

    def test_talker_served_after_delay(self):
        t0 = time.monotonic()
        c = self.connect(greet=False)
        c.send("EHLO client.example\r\n")
        self.assertEqual(c.reply().code, 220)
        self.assertGreaterEqual(time.monotonic() - t0, 0.45)
        self.assertEqual(c.reply().code, 250)


# --- 5. pipelining without PIPELINING -------------------------------------------

NO_PIPELINING = """
server = { hostname = "mx.test"; };
listeners = ( { name = "smtp"; port = 0; tls = "none"; auth_without_tls = true; } );
auth = { users = ( { name = "alice"; password = "secret"; } ); };
smtp = { extensions = [ "SIZE", "8BITMIME", "ENHANCEDSTATUSCODES" ]; };
"""

SYNC = (554, "5.5.0 Error: SMTP protocol synchronization")


class Pipelining(PolicyTest):
    CONFIG = NO_PIPELINING

    def test_not_advertised_after_ehlo(self):
        c = self.on("smtp")
        r = self.ehlo(c)
        self.assertNotIn("PIPELINING", r.lines)
        c.send("MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\n")
        r = c.reply()
        self.assertEqual((r.code, r.text), SYNC)
        self.assertTrue(c.closed())
        self.assertEqual(c.buf, b"")
        self.d.wait_log(r'\[127\.0\.0\.1\]:\d+ reject code=554 status=5\.5\.0 stage=mail rule=- cmd="MAIL FROM:<a@example\.com>" '
                        r'check=pipelining reason=')

    def test_after_helo(self):
        c = self.on("smtp")
        self.assertEqual(c.cmd("HELO client.example").code, 250)
        c.send("MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\n")
        r = c.reply()
        self.assertEqual((r.code, r.text), SYNC)
        self.assertTrue(c.closed())

    def test_one_at_a_time_is_fine(self):
        c = self.on("smtp")
        self.start_tx(c)
        self.assertEqual(self.send_message(c).code, 250)
        self.wait_messages(1)

    def test_allowed_after_auth(self):
        c = self.on("smtp")
        self.assertEqual(self.ehlo(c).code, 250)
        self.assertEqual(c.cmd("AUTH PLAIN " + plain("alice", "secret")).code, 235)
        c.send("MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\nRCPT TO:<c@example.com>\r\n")
        self.assertEqual([c.reply().code for _ in range(3)], [250, 250, 250])
        self.assertEqual(self.send_message(c).code, 250)
        (_, data), = self.wait_messages(1)
        self.assertEqual(envelope(data), ("a@example.com", ["b@example.com", "c@example.com"]))


class EhloSynchronization(PolicyTest):
    LISTEN = True
    CONFIG = 'server = { hostname = "mx.test"; };'

    def test_command_behind_first_ehlo(self):
        c = self.connect()
        c.send("EHLO client.example\r\nMAIL FROM:<a@b.c>\r\n")
        r = c.reply()
        self.assertEqual((r.code, r.text), SYNC)
        self.assertTrue(c.closed())
        self.d.wait_log(r'\[127\.0\.0\.1\]:\d+ reject code=554 status=5\.5\.0 stage=helo rule=- cmd="EHLO client\.example" '
                        r'check=pipelining reason=')

    def test_command_behind_helo(self):
        c = self.connect()
        c.send("HELO client.example\r\nMAIL FROM:<a@b.c>\r\n")
        self.assertEqual(rt(c.reply()), SYNC)
        self.assertTrue(c.closed())

    def test_command_behind_a_later_ehlo_or_helo(self):
        """EHLO and HELO end a group however often they are sent (RFC 2920
        3.1): a command in the same write as a second EHLO or HELO is
        improper pipelining too, as behind the first."""
        for verb in ("EHLO", "HELO"):
            with self.subTest(verb=verb):
                c = self.connect()
                self.assertEqual(self.ehlo(c).code, 250)
                c.send("%s again.example\r\nMAIL FROM:<a@b.c>\r\n" % verb)
                self.assertEqual(rt(c.reply()), SYNC)
                self.assertTrue(c.closed())

    def test_pipelining_after_ehlo_is_fine(self):
        c = self.connect()
        r = self.ehlo(c)
        self.assertIn("PIPELINING", r.lines)
        c.send("MAIL FROM:<a@b.c>\r\nRCPT TO:<d@example.com>\r\nNOOP\r\n")
        self.assertEqual([c.reply().code for _ in range(3)], [250, 250, 250])


# --- 6. non-SMTP clients ----------------------------------------------------------

NOT_SMTP = (521, "5.7.0 mx.test Error: not an SMTP client, closing connection")


class NonSmtp(PolicyTest):
    LISTEN = True
    CONFIG = 'server = { hostname = "mx.test"; };'

    def test_http_get(self):
        c = self.connect()
        c.send("GET / HTTP/1.0\r\n\r\n")
        self.assertEqual(rt(c.reply()), NOT_SMTP)
        self.assertTrue(c.closed())
        self.assertEqual(c.buf, b"")
        self.d.wait_log(r'\[127\.0\.0\.1\]:\d+ reject code=521 status=5\.7\.0 stage=command rule=- cmd="GET / HTTP/1\.0" '
                        r'check=non_smtp reason=')

    def test_header_line(self):
        c = self.connect()
        self.assertEqual(self.ehlo(c).code, 250)
        r = c.cmd("Host: example.com")
        self.assertEqual((r.code, r.text), NOT_SMTP)
        self.assertTrue(c.closed())

    def test_post_after_ehlo(self):
        c = self.connect()
        self.assertEqual(self.ehlo(c).code, 250)
        self.assertEqual(rt(c.cmd("POST /x HTTP/1.1")), NOT_SMTP)
        self.assertTrue(c.closed())


class NonSmtpAnyCase(PolicyTest):
    LISTEN = True
    CONFIG = 'server = { hostname = "mx.test"; };'

    def test_lowercase_get(self):
        c = self.connect()
        c.send("get / HTTP/1.1\r\n")
        self.assertEqual(rt(c.reply()), NOT_SMTP)
        self.assertTrue(c.closed())


class NoGreetingDelay(PolicyTest):
    """Without smtp.greeting_delay there is no window: nobody is an early talker."""
    LISTEN = True

    def test_client_writing_at_once_is_served(self):
        for _ in range(10):
            c = self.d.connect()
            self.clients.append(c)
            c.send("EHLO quick.example\r\n")
            self.assertEqual(c.reply().code, 220)
            self.assertEqual(c.reply().code, 250)
        self.assertEqual(self.d.find_all(r"check=pregreet"), [])


class Reply421Closes(PolicyTest):
    LISTEN = True
    CONFIG = """
    rules = ( { stage = "mail"; action = "defer"; code = 421; status = "4.3.2"; text = "going down"; } );
    """

    def test_421_from_a_rule_closes(self):
        c = self.connect()
        self.assertEqual(self.ehlo(c).code, 250)
        r = c.cmd("MAIL FROM:<a@example.com>")
        self.assertEqual((r.code, r.text), (421, "4.3.2 going down"))
        self.assertTrue(c.closed())


class NonSmtpAllowed(PolicyTest):
    LISTEN = True
    CONFIG = 'smtp = { reject_non_smtp = false; };'

    def test_get_is_just_unknown(self):
        c = self.connect()
        r = c.cmd("GET / HTTP/1.0")
        self.assertEqual((r.code, r.text), (500, "5.5.2 Error: command not recognized"))
        r = c.cmd("Host: example.com")
        self.assertEqual(r.code, 500)
        self.assertEqual(c.cmd("NOOP").code, 250)
        self.assertEqual(self.d.find_all(r"check=non_smtp"), [])


# --- 7. fault rules ---------------------------------------------------------------

class CommandReject(PolicyTest):
    LISTEN = True
    CONFIG = """server = { hostname = "mx.test"; };
rules = (
    { stage = "command"; command = "NOOP"; action = "reject"; code = 452; status = "4.3.1"; text = "no"; },
    { stage = "command"; command = [ "VRFY", "HELP" ]; action = "reject"; text = "not for %c via %l"; },
    { stage = "command"; command = "EXPN"; action = "reject"; code = 452; text = "line one\\nline two 100%% %x"; }
);
"""

    def test_chosen_code(self):
        c = self.connect()
        r = c.cmd("NOOP")
        self.assertEqual((r.code, r.text), (452, "4.3.1 no"))
        self.d.wait_log(r' reject code=452 status=4\.3\.1 stage=command rule=%d cmd=NOOP reason=no$' % self.rule_line('"NOOP"'))
        self.assertEqual(self.ehlo(c).code, 250)
        r = c.cmd("VRFY bob")
        self.assertEqual((r.code, r.text), (550, "5.7.1 not for 127.0.0.1 via 127.0.0.1:0"))
        self.assertEqual(c.cmd("HELP").code, 550)
        # A multi-line text; the status follows the code when not given.
        r = c.cmd("EXPN list")
        self.assertEqual((r.code, r.lines), (452, ["4.7.1 line one", "4.7.1 line two 100% %x"]))
        self.assertEqual(c.cmd("RSET").code, 250)
        self.start_tx(c, rcpts=())
        self.assertEqual(c.cmd("NOOP").code, 452)
        # The transaction survives the refused command.
        self.assertEqual(c.cmd("RCPT TO:<bob@example.com>").code, 250)
        self.assertEqual(self.send_message(c).code, 250)
        self.wait_messages(1)


class ConnectReject(PolicyTest):
    LISTEN = True
    CONFIG = """rules = ( { stage = "connect"; client = "127.0.0.0/8"; action = "reject"; } );
"""

    def test_rejected_before_greeting(self):
        c = self.connect(greet=False)
        r = c.reply()
        self.assertEqual((r.code, r.text), (554, "5.7.1 Error: connection rejected by policy"))
        self.assertTrue(c.closed())
        self.assertEqual(c.buf, b"")
        self.d.wait_log(r' reject code=554 status=5\.7\.1 stage=connect rule=1 cmd=- reason="Error: connection rejected by policy"$')


class ConnectDefer(PolicyTest):
    LISTEN = True
    CONFIG = """rules = (
    { stage = "connect"; not_client = "192.0.2.0/24"; action = "defer"; code = 421; status = "4.3.2"; text = "Service not available, try later"; }
);
"""

    def test_deferred_before_greeting(self):
        c = self.connect(greet=False)
        r = c.reply()
        self.assertEqual((r.code, r.text), (421, "4.3.2 Service not available, try later"))
        self.assertTrue(c.closed())


FAULTS = """server = { hostname = "mx.test"; };
limits = { errors = 100; };
rules = (
    { stage = "mail"; sender = "^later@"; action = "defer"; },
    { stage = "mail"; sender = "^tarpit@"; action = "tarpit"; delay_ms = 300; },
    { stage = "rcpt"; rcpt = "^slow@"; action = "delay"; delay_ms = 300; },
    { stage = "rcpt"; rcpt = "^trash@"; action = "discard"; },
    { stage = "rcpt"; rcpt = "^second@"; nth = 2; action = "reject"; code = 550; status = "5.1.1"; text = "<%r>: second"; },
    { stage = "data"; sender = "^nodata@"; action = "reject"; code = 554; status = "5.7.1"; text = "no data from <%s>"; },
    { stage = "eom"; sender = "^drop@"; action = "discard"; },
    { stage = "eom"; sender = "^fail@"; action = "defer"; code = 451; status = "4.3.0"; text = "Queue file write error"; }
);
"""


class Faults(PolicyTest):
    LISTEN = True
    CONFIG = FAULTS

    @property
    def c(self):
        """One greeted session per test, opened on first use."""
        if not hasattr(self, "_c"):
            self._c = self.connect()
            self.assertEqual(self.ehlo(self._c).code, 250)
        return self._c

    def test_defer_at_mail(self):
        c = self.c
        r = c.cmd("MAIL FROM:<later@example.com>")
        self.assertEqual((r.code, r.text), (450, "4.7.1 Error: try again later"))
        self.d.wait_log(r' reject code=450 status=4\.7\.1 stage=mail rule=%d cmd="MAIL FROM:<later@example\.com>" '
                        r'reason="Error: try again later"$' % self.rule_line("^later@"))
        # No transaction was started.
        self.assertEqual(c.cmd("RCPT TO:<bob@example.com>").code, 503)
        self.assertEqual(c.cmd("MAIL FROM:<now@example.com>").code, 250)

    def test_delay_at_rcpt(self):
        c = self.c
        self.assertEqual(c.cmd("MAIL FROM:<a@example.com>").code, 250)
        r, dt = self.timed(c, "RCPT TO:<slow@example.com>")
        self.assertEqual((r.code, r.text), (250, "2.1.5 Ok"))
        self.assertGreaterEqual(dt, 0.25)
        self.assertLess(dt, SLOW)
        self.d.wait_log(r" delay stage=rcpt ms=300$")
        self.assertEqual(self.send_message(c).code, 250)
        self.assertEqual(envelope(self.wait_messages(1)[0][1])[1], ["slow@example.com"])

    def test_tarpit_delays_every_later_reply(self):
        c = self.c
        r, dt = self.timed(c, "MAIL FROM:<tarpit@example.com>")
        self.assertEqual(r.code, 250)
        self.assertGreaterEqual(dt, 0.25)
        for line, code in (("RCPT TO:<bob@example.com>", 250), ("NOOP", 250), ("RSET", 250),
                           ("MAIL FROM:<other@example.com>", 250)):
            r, dt = self.timed(c, line)
            self.assertEqual(r.code, code, line)
            self.assertGreaterEqual(dt, 0.25, line)
            self.assertLess(dt, SLOW, line)

    def test_discard_at_rcpt(self):
        c = self.c
        self.start_tx(c, sender="a@example.com", rcpts=("bob@example.com", "trash@example.com"))
        r = self.send_message(c)
        self.assertEqual((r.code, r.text), (250, "2.0.0 Ok: discarded"))
        self.d.wait_log(r" discard size=\d+ from=<a@example\.com> nrcpt=2 msg=1 rule=%d$"
                        % self.rule_line("^trash@"))
        self.assertEqual(self.d.messages("new"), [])
        self.assertEqual(self.d.messages("tmp"), [])
        # The next transaction is delivered.
        self.assertEqual(c.cmd("MAIL FROM:<a@example.com>").code, 250)
        self.assertEqual(c.cmd("RCPT TO:<bob@example.com>").code, 250)
        self.assertEqual(self.send_message(c).code, 250)
        self.assertEqual(envelope(self.wait_messages(1)[0][1])[1], ["bob@example.com"])

    def test_discard_at_eom(self):
        c = self.c
        self.start_tx(c, sender="drop@example.com")
        r = self.send_message(c)
        self.assertEqual((r.code, r.text), (250, "2.0.0 Ok: discarded"))
        self.assertEqual(self.d.messages("new"), [])
        self.assertEqual(self.d.messages("tmp"), [])
        self.d.wait_log(r" discard size=\d+ from=<drop@example\.com> nrcpt=1 msg=1 rule=%d$" % self.rule_line("^drop@"))

    def test_failure_after_data(self):
        c = self.c
        self.start_tx(c, sender="fail@example.com")
        r = self.send_message(c)
        self.assertEqual((r.code, r.text), (451, "4.3.0 Queue file write error"))
        self.d.wait_log(r' reject code=451 status=4\.3\.0 stage=eom rule=%d cmd="end of DATA" '
                        r'reason="Queue file write error"$' % self.rule_line("^fail@"))
        self.assertEqual(self.d.messages("new"), [])
        self.assertEqual(self.d.messages("tmp"), [])
        # The transaction is over; the session goes on.
        self.assertEqual(c.cmd("RCPT TO:<bob@example.com>").code, 503)
        self.start_tx(c, sender="ok@example.com")
        self.assertEqual(self.send_message(c).code, 250)
        self.wait_messages(1)

    def test_reject_at_data(self):
        c = self.c
        self.start_tx(c, sender="nodata@example.com")
        r = c.cmd("DATA")
        self.assertEqual((r.code, r.text), (554, "5.7.1 no data from <nodata@example.com>"))
        self.d.wait_log(r' reject code=554 status=5\.7\.1 stage=data rule=%d cmd=DATA '
                        r'reason="no data from <nodata@example\.com>"$' % self.rule_line("^nodata@"))
        # No 354: what follows is read as commands.
        self.assertEqual(c.cmd("RSET").code, 250)
        self.assertEqual(self.d.messages("new"), [])
        self.assertEqual(self.d.messages("tmp"), [])

    def test_nth_rcpt(self):
        c = self.c
        self.assertEqual(c.cmd("MAIL FROM:<a@example.com>").code, 250)
        replies = [rt(c.cmd("RCPT TO:<second@example.com>"))
                   for _ in range(3)]
        self.assertEqual(replies, [(250, "2.1.5 Ok"), (550, "5.1.1 <second@example.com>: second"),
                                   (250, "2.1.5 Ok")])


class ConnectDiscard(PolicyTest):
    LISTEN = True
    CONFIG = 'rules = ( { stage = "connect"; action = "discard"; } );\n'

    def test_every_message_of_the_session_discarded(self):
        c = self.connect()
        for n in range(2):
            self.start_tx(c, sender="s%d@example.com" % n)
            r = self.send_message(c)
            self.assertEqual((r.code, r.text), (250, "2.0.0 Ok: discarded"))
        self.d.wait_log(r" discard size=\d+ from=<s1@example\.com> nrcpt=1 msg=2 rule=1$")
        self.assertEqual(self.d.messages("new"), [])
        self.assertEqual(self.d.messages("tmp"), [])


class Throttle(PolicyTest):
    LISTEN = True
    CONFIG = """server = { hostname = "mx.test"; };
rules = ( { stage = "helo"; action = "throttle"; rate = 200; } );
"""

    def test_ehlo_reply_throttled(self):
        c = self.connect()
        t0 = time.monotonic()
        c.send("EHLO client.example\r\n")
        r = c.reply()
        dt = time.monotonic() - t0
        self.assertEqual(r.code, 250)
        octets = sum(len(l) + 6 for l in r.lines)
        self.assertGreater(octets, 100)
        # 200 octets a second, in tenths: at least (octets / 20 - 1) * 0.1 s.
        self.assertGreater(dt, 0.3, (octets, dt))
        self.assertLess(dt, SLOW)


class Disconnects(PolicyTest):
    LISTEN = True
    CONFIG = """server = { hostname = "mx.test"; };
rules = (
    { stage = "command"; command = "RSET"; action = "disconnect"; },
    { stage = "command"; command = "VRFY"; action = "disconnect"; reply = true; },
    { stage = "command"; command = "HELP"; action = "disconnect"; reply = true; code = 554; status = "5.3.2"; text = "bye %c"; },
    { stage = "command"; command = [ "QUIT", "NOOP" ]; action = "disconnect"; after = true; }
);
"""

    def test_without_reply(self):
        c = self.connect()
        self.assertEqual(self.ehlo(c).code, 250)
        c.send("RSET\r\n")
        self.assert_closed_silently(c)
        self.d.wait_log(r" drop stage=command rule=%d when=now$" % self.rule_line('"RSET"'))

    def test_with_reply(self):
        c = self.connect()
        r = c.cmd("VRFY bob")
        self.assertEqual((r.code, r.text), (421, "4.7.0 Error: closing connection"))
        self.assertTrue(c.closed())
        self.assertEqual(c.buf, b"")
        c = self.connect()
        r = c.cmd("HELP")
        self.assertEqual((r.code, r.text), (554, "5.3.2 bye 127.0.0.1"))
        self.assertTrue(c.closed())

    def test_after_reply(self):
        c = self.connect()
        r = c.cmd("NOOP")
        self.assertEqual((r.code, r.text), (250, "2.0.0 Ok"))
        self.assertTrue(c.closed())
        self.assertEqual(c.buf, b"")
        self.d.wait_log(r" drop stage=command rule=%d when=after-reply$" % self.rule_line('"QUIT", "NOOP"'))
        c = self.connect()
        self.assertEqual(self.ehlo(c).code, 250)
        r = c.cmd("QUIT")
        self.assertEqual((r.code, r.text), (221, "2.0.0 Bye"))
        self.assertTrue(c.closed())


class Probability(PolicyTest):
    LISTEN = True
    CONFIG = """limits = { errors = 100; };
policy = { seed = 20261121; };
rules = ( { stage = "rcpt"; probability = 0.5; action = "reject"; code = 550; status = "5.1.1"; text = "<%r>: User unknown"; } );
"""

    def session(self):
        c = self.connect()
        self.assertEqual(self.ehlo(c).code, 250)
        self.assertEqual(c.cmd("MAIL FROM:<a@example.com>").code, 250)
        out = []
        for i in range(20):
            r = c.cmd("RCPT TO:<r%d@example.com>" % i)
            if r.code == 550:
                self.assertEqual(r.text, "5.1.1 <r%d@example.com>: User unknown" % i)
            out.append(r.code)
        self.assertEqual(c.cmd("QUIT").code, 221)
        return out

    def test_same_sequence_in_every_session(self):
        first = self.session()
        second = self.session()
        self.assertEqual(first, second)
        self.assertEqual(set(first), {250, 550})


class PerListener(PolicyTest):
    CONFIG = """server = { hostname = "mx.test"; };
listeners = (
    { name = "top"; port = 0; tls = "none"; },
    { name = "named"; port = 0; tls = "none"; rules = "strict"; },
    { name = "inline"; port = 0; tls = "none";
      rules = ( { stage = "rcpt"; rcpt = "^inline@"; action = "reject"; code = 553; status = "5.1.3"; text = "inline on %l"; } ); }
);
rules = (
    { stage = "rcpt"; rcpt = "^top@"; action = "reject"; code = 551; status = "5.7.1"; text = "top on %l"; },
    { stage = "rcpt"; listener = "top"; rcpt = "^onlytop@"; action = "reject"; }
);
rulesets = {
    strict = ( { stage = "rcpt"; rcpt = "^named@"; action = "reject"; code = 552; status = "5.2.2"; text = "named on %l"; } );
};
"""

    def replies(self, listener):
        c = self.on(listener)
        self.assertEqual(self.ehlo(c).code, 250)
        self.assertEqual(c.cmd("MAIL FROM:<a@example.com>").code, 250)
        out = {}
        for who in ("top", "onlytop", "named", "inline", "other"):
            r = c.cmd("RCPT TO:<%s@example.com>" % who)
            out[who] = (r.code, r.text) if r.code != 250 else 250
        return out

    def test_each_listener_has_its_rules(self):
        self.assertEqual(self.replies("top"), {
            "top": (551, "5.7.1 top on top"),
            "onlytop": (550, "5.7.1 <onlytop@example.com>: Recipient address rejected by policy"),
            "named": 250, "inline": 250, "other": 250})
        self.assertEqual(self.replies("named"), {
            "top": 250, "onlytop": 250, "named": (552, "5.2.2 named on named"),
            "inline": 250, "other": 250})
        self.assertEqual(self.replies("inline"), {
            "top": 250, "onlytop": 250, "named": 250,
            "inline": (553, "5.1.3 inline on inline"), "other": 250})


class Conditions(PolicyTest):
    LISTEN = True
    CONFIG = r"""server = { hostname = "mx.test"; };
limits = { errors = 100; };
rules = (
    { stage = "helo"; helo = "^(localhost|\\[?127\\.)"; action = "reject"; code = 550; status = "5.7.1"; text = "<%h>: Helo command rejected: you are not me"; },
    { stage = "mail"; sender = "@spam\\.example$"; action = "reject"; },
    { stage = "mail"; size_over = 1000; action = "reject"; code = 552; status = "5.3.4"; text = "%s: too big for policy"; },
    { stage = "rcpt"; sender_domains = [ "bulk.example" ]; rcpt = "^vip@"; action = "defer"; },
    { stage = "rcpt"; helo = "^tester\\."; authenticated = false; tls = false; rcpt_domains = [ ".test.example" ]; action = "reject"; text = "<%r> from %h"; }
);
"""

    def test_helo_regex(self):
        c = self.connect()
        for name in ("localhost", "[127.0.0.1]", "LOCALHOST"):
            r = c.cmd("EHLO " + name)
            self.assertEqual((r.code, r.text),
                             (550, "5.7.1 <%s>: Helo command rejected: you are not me" % name))
        self.d.wait_log(r' reject code=550 status=5\.7\.1 stage=helo rule=%d cmd="EHLO LOCALHOST" '
                        r'reason="<LOCALHOST>: Helo command rejected: you are not me"$' % self.rule_line("Helo command"))
        # The rejected EHLO did not count as a greeting.
        self.assertEqual(c.cmd("MAIL FROM:<a@example.com>").code, 503)
        self.assertEqual(c.cmd("EHLO client.example").code, 250)
        self.assertEqual(c.cmd("MAIL FROM:<a@example.com>").code, 250)

    def test_sender_regex(self):
        c = self.connect()
        self.assertEqual(self.ehlo(c).code, 250)
        r = c.cmd("MAIL FROM:<joe@spam.example>")
        self.assertEqual((r.code, r.text), (550, "5.7.1 Error: rejected by policy"))
        self.assertEqual(c.cmd("RCPT TO:<bob@example.com>").code, 503)
        self.assertEqual(c.cmd("MAIL FROM:<joe@spam.example.org>").code, 250)

    def test_size_over(self):
        c = self.connect()
        self.assertEqual(self.ehlo(c).code, 250)
        r = c.cmd("MAIL FROM:<big@example.com> SIZE=1001")
        self.assertEqual((r.code, r.text), (552, "5.3.4 big@example.com: too big for policy"))
        self.assertEqual(c.cmd("MAIL FROM:<big@example.com> SIZE=1000").code, 250)
        self.assertEqual(c.cmd("RSET").code, 250)
        self.assertEqual(c.cmd("MAIL FROM:<big@example.com>").code, 250)

    def test_sender_domain_and_rcpt(self):
        c = self.connect()
        self.assertEqual(self.ehlo(c).code, 250)
        self.assertEqual(c.cmd("MAIL FROM:<news@bulk.example>").code, 250)
        r = c.cmd("RCPT TO:<vip@example.com>")
        self.assertEqual((r.code, r.text), (450, "4.7.1 Error: try again later"))
        self.assertEqual(c.cmd("RCPT TO:<other@example.com>").code, 250)
        self.assertEqual(c.cmd("RSET").code, 250)
        self.assertEqual(c.cmd("MAIL FROM:<news@example.com>").code, 250)
        self.assertEqual(c.cmd("RCPT TO:<vip@example.com>").code, 250)

    def test_several_conditions_together(self):
        c = self.connect()
        self.assertEqual(c.cmd("EHLO tester.example").code, 250)
        self.assertEqual(c.cmd("MAIL FROM:<a@example.com>").code, 250)
        r = c.cmd("RCPT TO:<x@a.test.example>")
        self.assertEqual((r.code, r.text), (550, "5.7.1 <x@a.test.example> from tester.example"))
        # ".test.example" is for subdomains only.
        self.assertEqual(c.cmd("RCPT TO:<x@test.example>").code, 250)
        c2 = self.connect()
        self.assertEqual(c2.cmd("EHLO other.example").code, 250)
        self.assertEqual(c2.cmd("MAIL FROM:<a@example.com>").code, 250)
        self.assertEqual(c2.cmd("RCPT TO:<x@a.test.example>").code, 250)


# --- 8. smtptrapd -t ------------------------------------------------------------

class CheckPolicyConfig(unittest.TestCase):
    def check(self, text):
        tmp = tempfile.mkdtemp(prefix="smtptrap-test-")
        self.addCleanup(shutil.rmtree, tmp, ignore_errors=True)
        path = os.path.join(tmp, "p.conf")
        with open(path, "w") as f:
            f.write('delivery = { directory = "%s"; };\n' % tmp + text)
        p = subprocess.run([SMTPTRAPD, "-t", "-c", path], capture_output=True, timeout=30)
        return p, path

    def assert_error(self, text, marker, message):
        p, path = self.check(text)
        self.assertEqual(p.returncode, 1, p)
        line = line_of(text, marker) + 1    # the delivery line comes first
        expect = "%s:%d: %s" % (path, line, message)
        self.assertIn(expect, p.stderr.decode(), p.stderr.decode())

    def test_good_policy(self):
        # The configurations used above are valid as they stand.
        for text in (RELAY, FAULTS, PerListener.CONFIG, Conditions.CONFIG, Disconnects.CONFIG):
            p, _ = self.check(text.replace("port = 0;", "port = 2525;"))
            self.assertEqual((p.returncode, p.stdout, p.stderr), (0, b"configuration OK\n", b""))

    def test_unknown_class(self):
        self.assert_error('classes = { internal = [ "127.0.0.0/8" ]; };\nrules = (\n'
                          '    { stage = "rcpt";\n      client = [ "internal", "nosuch" ];\n'
                          '      action = "accept"; }\n);\n',
                          "nosuch", "unknown class 'nosuch' (and not a network)")

    def test_unknown_xclient_class(self):
        self.assert_error('classes = { internal = [ "127.0.0.0/8" ]; };\n'
                          'policy = {\n    xclient_allowed = "proxies";\n};\n',
                          "proxies", "policy: xclient_allowed names unknown class 'proxies'")

    def test_bad_cidr(self):
        self.assert_error('classes = {\n    internal = [ "127.0.0.0/8",\n'
                          '                 "10.1.2.3/8" ];\n};\n',
                          "10.1.2.3/8", "class 'internal': bad network '10.1.2.3/8' "
                          "(expected ADDRESS or ADDRESS/PREFIX with zero host bits)")
        self.assert_error('classes = { v4 = [ "192.0.2.0/33" ]; };\n', "/33",
                          "class 'v4': bad network '192.0.2.0/33'")

    def test_bad_regex(self):
        self.assert_error('rules = (\n    { stage = "helo";\n      helo = "([";\n'
                          '      action = "reject"; }\n);\n',
                          '"(["', "'helo': bad regular expression '([': ")

    def test_code_out_of_range(self):
        self.assert_error('rules = (\n    { stage = "mail"; action = "reject";\n'
                          '      code = 600; }\n);\n',
                          "600", "'code' must be between 200 and 599, not 600")

    def test_status_not_matching_code(self):
        self.assert_error('rules = (\n    { stage = "mail"; action = "reject"; code = 550;\n'
                          '      status = "4.7.1"; }\n);\n',
                          "stage", "status 4.7.1 does not match reply code 550 "
                          "(the first digits must agree)")
        self.assert_error('rules = (\n    { stage = "mail"; action = "defer";\n'
                          '      status = "5.7.1"; }\n);\n',
                          "stage", "status 5.7.1 does not match reply code 450")

    def test_defer_must_be_4xx(self):
        self.assert_error('rules = (\n  { stage = "rcpt"; action = "defer"; code = 550; }\n);\n',
                          "stage", "a defer reply must be 4xx, not 550")

    def test_all_errors_reported(self):
        text = ('classes = {\n    a = [ "10.1.2.3/8" ];\n};\nrules = (\n'
                '    { stage = "rcpt"; client = "nosuch"; action = "accept"; },\n'
                '    { stage = "mail"; action = "reject"; code = 600; }\n);\n')
        p, path = self.check(text)
        self.assertEqual(p.returncode, 1)
        err = p.stderr.decode()
        self.assertIn("%s:3: class 'a': bad network" % path, err)
        self.assertIn("%s:6: unknown class 'nosuch'" % path, err)
        self.assertIn("%s:7: 'code' must be between 200 and 599, not 600" % path, err)


if __name__ == "__main__":
    main()
