"""Greylisting against the real daemon: deferral with the seconds left,
the daemon's clock advanced through the control socket instead of
sleeping, X-Greylist on the first pass, state shared by workers and kept
across restarts, concurrent clients, auto-whitelist, static and manual
whitelists, delete/flush/purge, and a store that is broken.

No test here waits for greylisting time to pass: every wait is the
control socket's "clock advance".
"""

import os
import re
import shutil
import sys
import tempfile
import threading
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from smtptrap_harness import (Daemon, DaemonTest, control, envelope, give_to_daemon_user, main,  # noqa: E402
                              trace_of)

MSG = "Subject: greylist\r\n\r\nhello\r\n"

BASE = """
server = { hostname = "mx.test"; state_directory = "%(state)s"; };
listeners = ( { name = "smtp"; address = "127.0.0.1"; port = 0; tls = "none"; } );
workers = { min_spare = 2; max_spare = 8; max_workers = 32; sessions = 1; };
control = { socket = "@DIR@/ctl"; clock_control = true; };
greylist = { %(greylist)s };
rules = (
%(rules)s
);
"""

GREYLIST_ALL = '    { stage = "rcpt"; action = "greylist"; }'


def config(greylist="", rules=GREYLIST_ALL, state="@DIR@/var/lib/smtptrapd"):
    return BASE % {"greylist": greylist, "rules": rules, "state": state}


DEFER_300 = (450, "4.7.1 Greylisted, please try again in 300 seconds")


class GreylistTest(DaemonTest):
    LISTEN = ()  # the listeners of CONFIG
    CONFIG = config()

    def setUp(self):
        super().setUp()
        self.ctl = os.path.join(self.d.dir, "ctl")
        self.d.wait_log(r"greylist store \S+/var/lib/smtptrapd/smtptrapd\.lmdb$")

    def control(self, line, code=200):
        r = control(self.ctl, line)
        self.assertEqual(r.code, code, "%s -> %d %s" % (line, r.code, r.text))
        return r

    def advance(self, secs):
        r = self.control("clock advance %s" % secs)
        self.assertRegex(r.text, r"^now=\d+ offset=-?\d+ time=\S+Z$")
        return r

    def rcpt(self, c, rcpt="bob@example.com", sender="alice@example.com", ehlo=True):
        if ehlo:
            self.assertEqual(self.ehlo(c).code, 250)
        self.assertEqual(c.cmd("MAIL FROM:<%s>" % sender).code, 250)
        r = c.cmd("RCPT TO:<%s>" % rcpt)
        return (r.code, r.text)

    def deliver(self, c):
        self.assertEqual(c.cmd("DATA").code, 354)
        c.send(MSG + ".\r\n")
        r = c.reply()
        self.assertEqual(r.code, 250, r.text)

    def triplets(self):
        r = self.control("greylist list")
        return [l for l in r.lines if l.startswith("triplet ")]


class Basics(GreylistTest):

    def test_defer_then_clock_advance_then_pass_with_header(self):
        c = self.connect()
        self.assertEqual(self.rcpt(c), DEFER_300)
        self.d.wait_log(r" greylist result=defer rcpt=<bob@example\.com> rule=\d+ retry=300$")
        self.advance(301)
        # The retry is accepted at once: no waiting for real time.
        c2 = self.connect()
        self.assertEqual(self.rcpt(c2), (250, "2.1.5 Ok"))
        self.deliver(c2)
        (name, data), = self.wait_messages(1)
        hdr = trace_of(data).decode()
        m = re.search(r"^X-Greylist: delayed (\d+) seconds by smtptrapd-\S+ at mx\.test; "
                      r"\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d \+0000\r$", hdr, re.M)
        self.assertIsNotNone(m, hdr)
        self.assertGreaterEqual(int(m.group(1)), 301)
        self.assertLess(int(m.group(1)), 330)
        # Later messages of the same triplet pass without the header.
        c3 = self.connect()
        self.assertEqual(self.rcpt(c3), (250, "2.1.5 Ok"))
        self.deliver(c3)
        msgs = self.d.messages()
        self.assertEqual(len(msgs), 2)
        later = [d for n, d in msgs if n != name][0]
        self.assertNotIn(b"X-Greylist", later)

    def test_seconds_left_count_down(self):
        c = self.connect()
        self.assertEqual(self.rcpt(c), DEFER_300)
        self.advance(100)
        r = c.cmd("RCPT TO:<bob@example.com>")
        self.assertEqual(r.code, 450)
        m = re.search(r"try again in (\d+) seconds", r.text)
        self.assertIsNotNone(m, r.text)
        # 200 seconds left, less the real seconds the test took.
        self.assertLessEqual(int(m.group(1)), 200)
        self.assertGreater(int(m.group(1)), 170)
        self.d.wait_log(r" greylist result=defer rcpt=<bob@example\.com> rule=\d+ retry=%s$" % m.group(1))

    def test_same_session_retry_passes(self):
        c = self.connect()
        self.assertEqual(self.rcpt(c), DEFER_300)
        self.advance(300)
        self.assertEqual(c.cmd("RCPT TO:<bob@example.com>").code, 250)
        self.deliver(c)
        self.assertIn(b"X-Greylist: delayed ", self.wait_messages(1)[0][1])

    def test_each_recipient_has_its_own_triplet(self):
        c = self.connect()
        self.assertEqual(self.rcpt(c, "a@example.com"), DEFER_300)
        self.advance(301)
        self.assertEqual(c.cmd("RCPT TO:<a@example.com>").code, 250)
        self.assertEqual(c.cmd("RCPT TO:<b@example.com>").code, 450)
        self.deliver(c)
        sender, rcpts = envelope(self.wait_messages(1)[0][1])
        self.assertEqual(rcpts, ["a@example.com"])

    def test_sender_normalised_and_null_sender(self):
        c = self.connect()
        self.assertEqual(self.rcpt(c, sender="Alice+news@Example.COM"), DEFER_300)
        self.advance(301)
        c2 = self.connect()
        # Another extension, a BATV tag and other case: the same triplet.
        self.assertEqual(self.rcpt(c2, sender="prvs=1234abcdef=alice+other@example.com"),
                         (250, "2.1.5 Ok"))
        c3 = self.connect()
        self.assertEqual(self.rcpt(c3, sender=""), DEFER_300)
        lines = self.triplets()
        self.assertEqual(len(lines), 2, lines)
        self.assertTrue(any(l.startswith("triplet 127.0.0.0/24 <alice@example.com> <bob@example.com> passed")
                            for l in lines), lines)
        self.assertTrue(any(l.startswith("triplet 127.0.0.0/24 <> <bob@example.com> waiting left=300")
                            for l in lines), lines)

    def test_list_flush_delete_and_status(self):
        c = self.connect()
        self.assertEqual(self.rcpt(c), DEFER_300)
        self.assertEqual(self.triplets(), [self.triplets()[0]])
        self.assertRegex(self.triplets()[0],
                         r"^triplet 127\.0\.0\.0/24 <alice@example\.com> <bob@example\.com> waiting "
                         r"left=300 first=\d+ last=\d+ attempts=1 passes=0$")
        st = self.control("status")
        self.assertIn("greylist triplets=1 clients=0", st.lines)
        self.assertEqual(self.control("greylist delete 127.0.0.0/24 <nobody@example.com> <bob@example.com>",
                                      550).text, "no such record")
        self.assertEqual(self.control("greylist delete 127.0.0.0/24 <alice@example.com> <bob@example.com>").text,
                         "deleted")
        self.assertEqual(self.triplets(), [])
        # Deleted: the next attempt starts the wait over.
        self.assertEqual(c.cmd("RCPT TO:<bob@example.com>").code, 450)
        self.advance(301)
        self.assertEqual(c.cmd("RCPT TO:<bob@example.com>").code, 250)
        self.assertEqual(self.control("greylist flush").text, "flushed")
        self.assertEqual(self.control("greylist list").text, "0 records")
        self.assertEqual(c.cmd("RCPT TO:<bob@example.com>").code, 450)

    def test_manual_whitelist(self):
        self.assertEqual(self.control("greylist whitelist 127.0.0.9").text, "127.0.0.0/24 whitelisted")
        c = self.connect()
        self.assertEqual(self.rcpt(c), (250, "2.1.5 Ok"))
        r = self.control("greylist list")
        self.assertTrue(any(l.startswith("client 127.0.0.0/24 whitelisted-manual ") for l in r.lines),
                        r.lines)
        self.assertEqual(self.triplets(), [])
        # A manual entry outlives the expiry of everything else.
        self.advance("400d")
        c2 = self.connect()
        self.assertEqual(self.rcpt(c2, "carol@example.com"), (250, "2.1.5 Ok"))
        self.assertEqual(self.control("greylist delete 127.0.0.0/24").text, "deleted")
        self.assertEqual(c2.cmd("RCPT TO:<dave@example.com>").code, 450)

    def test_expiry_purged_by_master_after_the_clock_moves(self):
        c = self.connect()
        self.assertEqual(self.rcpt(c), DEFER_300)
        self.advance(301)
        self.assertEqual(c.cmd("RCPT TO:<bob@example.com>").code, 250)
        self.assertEqual(len(self.triplets()), 1)
        self.advance("36d")
        # The master purged expired records right after the clock moved.
        self.assertEqual(self.control("greylist list").text, "0 records")
        self.d.wait_log(r"greylist store: 2 expired records removed")
        self.assertEqual(c.cmd("RCPT TO:<bob@example.com>").code, 450)
        self.assertEqual(self.control("greylist purge").text, "0 expired records removed")

    def test_retry_window_restarts_the_wait(self):
        c = self.connect()
        self.assertEqual(self.rcpt(c), DEFER_300)
        self.advance("3d")
        r = c.cmd("RCPT TO:<bob@example.com>")
        self.assertEqual((r.code, r.text), DEFER_300)
        self.advance(301)
        self.assertEqual(c.cmd("RCPT TO:<bob@example.com>").code, 250)


class Rules(GreylistTest):
    CONFIG = config(rules="""
    { stage = "rcpt"; sender_domains = [ "vip.example" ]; action = "accept"; },
    { stage = "rcpt"; action = "greylist"; },
    { stage = "rcpt"; rcpt_domains = [ "blocked.example" ]; action = "reject"; code = 554; text = "blocked"; }
""")

    def test_accept_before_greylist_skips_it(self):
        c = self.connect()
        self.assertEqual(self.rcpt(c, sender="boss@vip.example"), (250, "2.1.5 Ok"))
        self.assertEqual(self.triplets(), [])

    def test_deferral_wins_over_a_later_reject_then_the_reject_applies(self):
        c = self.connect()
        self.assertEqual(self.rcpt(c, "x@blocked.example"), DEFER_300)
        self.advance(301)
        r = c.cmd("RCPT TO:<x@blocked.example>")
        self.assertEqual((r.code, r.text), (554, "5.7.1 blocked"))

    def test_no_x_greylist_for_a_recipient_refused_after_passing(self):
        c = self.connect()
        self.assertEqual(self.rcpt(c, "ok@example.com"), DEFER_300)
        self.advance(301)
        self.assertEqual(c.cmd("RCPT TO:<ok@example.com>").code, 250)   # first pass, then RSET
        self.assertEqual(c.cmd("RSET").code, 250)
        self.assertEqual(c.cmd("MAIL FROM:<alice@example.com>").code, 250)
        self.assertEqual(c.cmd("RCPT TO:<x@blocked.example>").code, 450)
        self.advance(301)
        # Passes greylisting for the first time, but a later rule refuses it.
        self.assertEqual(c.cmd("RCPT TO:<x@blocked.example>").code, 554)
        self.assertEqual(c.cmd("RCPT TO:<ok@example.com>").code, 250)
        self.deliver(c)
        (name, data), = self.wait_messages(1)
        self.assertNotIn(b"X-Greylist", data)
        self.assertEqual(envelope(data)[1], ["ok@example.com"])


class Reply(GreylistTest):
    CONFIG = config(greylist="""
        delay = "10m"; reply_code = 451; reply_status = "4.7.0";
        reply_text = "Greylisted for %s seconds, see https://%r/why (100%%)";
    """)

    def test_configured_reply(self):
        c = self.connect()
        self.assertEqual(self.rcpt(c, "bob@Example.NET"),
                         (451, "4.7.0 Greylisted for 600 seconds, see https://Example.NET/why (100%)"))


class Whitelists(GreylistTest):
    CONFIG = config(greylist="""
        whitelist_senders = [ "trusted.example" ];
        whitelist_recipients = [ ".abuse.example" ];
        auto_whitelist = 2;
    """)

    def test_static_whitelists(self):
        c = self.connect()
        self.assertEqual(self.rcpt(c, sender="a@trusted.example"), (250, "2.1.5 Ok"))
        self.assertEqual(c.cmd("RCPT TO:<x@elsewhere.example>").code, 250)
        c2 = self.connect()
        self.assertEqual(self.rcpt(c2, "x@mx.abuse.example"), (250, "2.1.5 Ok"))
        self.assertEqual(c2.cmd("RCPT TO:<x@abuse.example>").code, 450)
        lines = self.triplets()
        self.assertEqual(len(lines), 1, lines)
        self.assertIn("<x@abuse.example>", lines[0])

    def test_auto_whitelist_after_passes_counted_once_per_hour(self):
        c = self.connect()
        self.assertEqual(self.rcpt(c, "r1@example.com"), DEFER_300)
        self.assertEqual(c.cmd("RCPT TO:<r2@example.com>").code, 450)
        self.advance(301)
        self.assertEqual(c.cmd("RCPT TO:<r1@example.com>").code, 250)   # pass counted: 1
        self.assertEqual(c.cmd("RCPT TO:<r2@example.com>").code, 250)   # same hour: still 1
        self.assertEqual(c.cmd("RCPT TO:<r3@example.com>").code, 450)   # not whitelisted yet
        r = self.control("greylist list")
        self.assertTrue(any(re.match(r"client 127\.0\.0\.0/24 counting passes=1 ", l)
                            for l in r.lines), r.lines)
        self.advance(3601)
        self.assertEqual(c.cmd("RCPT TO:<r3@example.com>").code, 250)   # pass counted: 2
        r = self.control("greylist list")
        self.assertTrue(any(re.match(r"client 127\.0\.0\.0/24 whitelisted-auto passes=2 ", l)
                            for l in r.lines), r.lines)
        self.assertEqual(c.cmd("RCPT TO:<r4@example.com>").code, 250)   # whitelisted
        self.assertEqual([l for l in self.triplets() if "r4@" in l], [])


class Workers(GreylistTest):

    def test_two_workers_see_the_same_state(self):
        a = self.connect()
        self.assertEqual(self.rcpt(a), DEFER_300)
        first = self.d.wait_log(r"\[(\d+)\]: \S+ \S+ greylist result=defer rcpt=<bob@example\.com> ")
        # a is still open, so b is served by another worker process.
        b = self.connect()
        st = self.control("status")
        busy = [l for l in st.lines if l.startswith("worker ") and "state=busy" in l]
        self.assertEqual(len(busy), 2, st.lines)
        self.advance(301)
        self.assertEqual(self.rcpt(b), (250, "2.1.5 Ok"))
        second = self.d.wait_log(r"\[(\d+)\]: \S+ \S+ greylist result=pass-delayed rcpt=<bob@example\.com> ")
        self.assertNotEqual(first.group(1), second.group(1))

    def test_twenty_concurrent_clients_lose_no_entries(self):
        errors = []
        go = threading.Barrier(20)

        def one(i):
            try:
                c = self.d.connect()
                c.expect(220)
                go.wait()
                code = self.rcpt(c, "user%02d@example.com" % i)[0]
                if code != 450:
                    errors.append("client %d got %d" % (i, code))
                c.cmd("QUIT")
                c.close()
            except Exception as e:  # reported below
                errors.append("client %d: %r" % (i, e))

        threads = [threading.Thread(target=one, args=(i,)) for i in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        self.assertEqual(errors, [])
        lines = self.triplets()
        self.assertEqual(len(lines), 20)
        for i in range(20):
            self.assertEqual(len([l for l in lines if "<user%02d@example.com>" % i in l]), 1)


class Restart(unittest.TestCase):
    """State lives in the store file: a new daemon on the same state
    directory knows every triplet."""

    def setUp(self):
        self.state = tempfile.mkdtemp(prefix="smtptrap-state-")
        give_to_daemon_user(self.state)
        self.daemons = []

    def tearDown(self):
        for d in self.daemons:
            d.cleanup()
        shutil.rmtree(self.state, ignore_errors=True)

    def start(self):
        d = Daemon(config(state=self.state), listen=())
        self.daemons.append(d)
        return d

    def rcpt(self, d):
        c = d.connect()
        try:
            c.expect(220)
            self.assertEqual(c.cmd("EHLO client.example").code, 250)
            self.assertEqual(c.cmd("MAIL FROM:<alice@example.com>").code, 250)
            r = c.cmd("RCPT TO:<bob@example.com>")
            c.cmd("QUIT")
            return r.code
        finally:
            c.close()

    def test_state_survives_restart(self):
        d1 = self.start()
        self.assertEqual(self.rcpt(d1), 450)
        self.assertEqual(d1.stop(), 0)
        d2 = self.start()
        # The clock offset starts at 0 again; the first attempt is remembered.
        self.assertEqual(control(os.path.join(d2.dir, "ctl"), "clock").text.split()[1], "offset=0")
        self.assertEqual(control(os.path.join(d2.dir, "ctl"), "clock advance 301").code, 200)
        self.assertEqual(self.rcpt(d2), 250)
        self.assertEqual(d2.stop(), 0)
        d3 = self.start()
        self.assertEqual(self.rcpt(d3), 250)  # passed before: passes at once


class StopRightAfterReady(unittest.TestCase):
    """A stop request that arrives while the master still opens the store
    (right after "ready") is a graceful stop, not a death by signal."""

    def test_sigterm_at_ready(self):
        for _ in range(5):
            d = Daemon(config(), listen=())
            try:
                self.assertEqual(d.stop(), 0, "\n".join(d.lines[-10:]))
                self.assertFalse(os.path.exists(os.path.join(d.dir, "ctl")))
            finally:
                d.cleanup()


class BrokenStore(unittest.TestCase):

    def setUp(self):
        self.state = tempfile.mkdtemp(prefix="smtptrap-state-")
        with open(os.path.join(self.state, "smtptrapd.lmdb"), "wb") as f:
            f.write(b"this is not an LMDB file\n" * 4096)
        give_to_daemon_user(self.state)
        self.d = None

    def tearDown(self):
        if self.d is not None:
            self.d.cleanup()
        shutil.rmtree(self.state, ignore_errors=True)

    def attempt(self, on_error):
        self.d = Daemon(config(greylist='on_store_error = "%s";' % on_error, state=self.state),
                        listen=())
        self.d.wait_log(r"error: greylist store \S+smtptrapd\.lmdb: .*; until it is fixed, greylisting")
        c = self.d.connect()
        try:
            c.expect(220)
            self.assertEqual(c.cmd("EHLO client.example").code, 250)
            self.assertEqual(c.cmd("MAIL FROM:<alice@example.com>").code, 250)
            r = c.cmd("RCPT TO:<bob@example.com>")
            return (r.code, r.text)
        finally:
            c.close()

    def test_fail_open(self):
        self.assertEqual(self.attempt("pass"), (250, "2.1.5 Ok"))
        self.d.wait_log(r'warning: \S+ \S+ greylist result=error rcpt=<bob@example\.com> rule=\d+ reason=(?:"[^"]*"|\S+) action=pass$')
        r = control(os.path.join(self.d.dir, "ctl"), "greylist list")
        self.assertEqual(r.code, 451)

    def test_fail_closed(self):
        self.assertEqual(self.attempt("defer"),
                         (451, "4.3.0 <bob@example.com>: Temporary lookup failure, try again later"))


class ClockDisabled(GreylistTest):
    CONFIG = config().replace("clock_control = true;", "")

    def test_clock_cannot_move(self):
        self.assertEqual(self.control("clock advance 301", 503).text,
                         "clock control is disabled: set control.clock_control = true")
        self.assertRegex(self.control("clock").text, r"^now=\d+ offset=0 ")
        c = self.connect()
        self.assertEqual(self.rcpt(c), DEFER_300)


if __name__ == "__main__":
    main()
