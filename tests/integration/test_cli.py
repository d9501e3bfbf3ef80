"""The smtptrap command against mail captured by the real daemon: list,
show (decoded headers, text and parts; --raw byte for byte; --part;
--json parsed back), filters, wait (inotify: reacts within milliseconds,
times out with exit 1, never reports a file still in tmp/), count,
purge, and the control verbs against the daemon's socket.

Messages are sent over real SMTP: plain text, a UTF-8 subject in
encoded words, multipart/alternative with an attachment, an 8-bit body,
SMTPUTF8 addresses and a header with invalid UTF-8.
"""

import json
import os
import re
import subprocess
import sys
import time
import unittest
from email.message import EmailMessage

sys.path.insert(0, os.path.dirname(__file__))
from smtptrap_harness import DaemonTest, main  # noqa: E402

SMTPTRAP = os.environ.get("SMTPTRAP") or os.path.join(
    os.path.dirname(__file__), "..", "..", "src", "smtptrap")

CONFIG = """
server = { hostname = "mx.test"; };
listeners = ( { name = "smtp"; address = "127.0.0.1"; port = 0; tls = "none"; } );
delivery = { directory = "@DIR@/maildir"; };
control = { socket = "@DIR@/ctl"; clock_control = true; };
"""

PDF = b"%PDF-1.4\n" + bytes(range(256)) * 40 + b"\n%%EOF\n"
SUBJECT_UTF8 = "Gr\u00fc\u00dfe aus K\u00f6ln \u2615"


def plain():
    return ("From: App <noreply@app.example>\r\nTo: Alice <alice@example.com>\r\n"
            "Subject: Password reset\r\nMessage-ID: <reset-1@app.example>\r\n"
            "Date: Sat, 21 Nov 2026 10:00:00 +0000\r\n\r\n"
            "Hello Alice,\r\nyour code is 123456.\r\n")


def encoded_subject():
    return ("From: =?UTF-8?Q?J=C3=B6rg?= <joerg@example.org>\r\nTo: bob@example.com\r\n"
            "Subject: =?UTF-8?B?R3LDvMOfZSBhdXMg?=\r\n =?UTF-8?Q?K=C3=B6ln_=E2=98=95?=\r\n"
            "\r\nbody\r\n")


def multipart():
    m = EmailMessage()
    m["From"] = "reports@app.example"
    m["To"] = "carol@example.com"
    m["Subject"] = "Monthly report"
    m.set_content("Caf\u00e9 numbers attached.\n", charset="iso-8859-1", cte="quoted-printable")
    m.add_alternative("<p>Caf\u00e9 numbers <b>attached</b>.</p>\n", subtype="html", cte="base64")
    m.add_attachment(PDF, maintype="application", subtype="pdf", filename="report.pdf")
    return m.as_bytes(policy=m.policy.clone(linesep="\r\n")).decode("ascii")


def eightbit():
    return ("From: dave@example.com\r\nTo: dave@example.com\r\nSubject: eight bit\r\n"
            "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
            "Content-Transfer-Encoding: 8bit\r\n\r\nna\u00efve caf\u00e9 \u2014 \u00fcber\r\n")


class CliTest(DaemonTest):
    LISTEN = ()  # the listeners of CONFIG
    CONFIG = CONFIG

    def setUp(self):
        super().setUp()
        self.conf = self.d.conf
        self.ctl = os.path.join(self.d.dir, "ctl")

    def trap(self, *args, check=True, input=None, code=0):
        p = subprocess.run([SMTPTRAP, "-c", self.conf] + list(args), input=input,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        if check:
            self.assertEqual(p.returncode, code, "smtptrap %s: rc %d\n%s%s" % (
                " ".join(args), p.returncode, p.stdout.decode("utf-8", "replace"),
                p.stderr.decode("utf-8", "replace")))
        return p

    def send(self, sender, rcpts, data, mail_params="", ehlo=True):
        c = self.connect()
        if ehlo:
            self.assertEqual(self.ehlo(c).code, 250)
        r = c.cmd("MAIL FROM:<%s>%s" % (sender, mail_params))
        self.assertEqual(r.code, 250, r.text)
        for rc in rcpts:
            r = c.cmd("RCPT TO:<%s>" % rc)
            self.assertEqual(r.code, 250, r.text)
        self.assertEqual(c.cmd("DATA").code, 354)
        if isinstance(data, str):
            data = data.encode("utf-8")
        c.send(data + b".\r\n")
        r = c.reply()
        self.assertEqual(r.code, 250, r.text)
        c.cmd("QUIT")
        return r

    def send_all(self):
        self.send("noreply@app.example", ["alice@example.com"], plain())
        self.send("joerg@example.org", ["bob@example.com"], encoded_subject())
        self.send("reports@app.example", ["carol@example.com", "bob@example.com"], multipart())
        self.send("dave@example.com", ["dave@example.com"], eightbit(), " BODY=8BITMIME")
        self.send("j\u00f6rg@b\u00fccher.example", ["\u00fcnicode@\u4f8b\u3048.jp"],
                  "Subject: utf8 addresses\r\n\r\nhi\r\n", " SMTPUTF8")
        return sorted(os.listdir(os.path.join(self.d.maildir, "new")))

    def lines(self, *args):
        return self.trap(*args).stdout.decode("utf-8").splitlines()


class Listing(CliTest):

    def test_list_one_line_per_message_newest_last(self):
        names = self.send_all()
        out = self.lines("list")
        self.assertEqual(len(out), 5)
        rows = [l.split("\t") for l in out]
        self.assertEqual([r[0] for r in rows], names)   # maildir names sort by time
        self.assertEqual(rows[0][2:5], ["<noreply@app.example>", "<alice@example.com>",
                                        "Password reset"])
        self.assertEqual(rows[1][4], SUBJECT_UTF8)
        self.assertEqual(rows[2][3], "<carol@example.com>,<bob@example.com>")
        self.assertEqual(rows[4][2:4], ["<j\u00f6rg@b\u00fccher.example>", "<\u00fcnicode@\u4f8b\u3048.jp>"])
        for r in rows:
            self.assertRegex(r[1], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
            self.assertEqual(int(r[5]), os.path.getsize(os.path.join(self.d.maildir, "new", r[0])))

    def test_list_json(self):
        names = self.send_all()
        data = json.loads(self.trap("list", "--json").stdout)
        self.assertEqual([m["id"] for m in data], names)
        m = data[2]
        self.assertEqual(m["envelope"]["sender"], "reports@app.example")
        self.assertEqual([r["address"] for r in m["envelope"]["recipients"]],
                         ["carol@example.com", "bob@example.com"])
        self.assertEqual(m["subject"], "Monthly report")
        self.assertEqual(data[1]["subject"], SUBJECT_UTF8)
        self.assertEqual(data[1]["from"], "J\u00f6rg <joerg@example.org>")
        self.assertEqual(data[3]["envelope"]["mail_parameters"], "BODY=8BITMIME")
        self.assertEqual(data[4]["envelope"]["mail_parameters"], "SMTPUTF8")
        self.assertEqual(data[0]["message_id"], "reset-1@app.example")
        self.assertEqual(data[0]["size"], os.path.getsize(os.path.join(self.d.maildir, "new", names[0])))
        self.assertIsInstance(data[0]["received"], int)

    def test_filters(self):
        names = self.send_all()
        self.assertEqual(self.lines("list", "--to", "ALICE")[0].split("\t")[0], names[0])
        self.assertEqual(len(self.lines("list", "--to", "bob@example.com")), 2)
        self.assertEqual(len(self.lines("list", "--to", "/^Alice </")), 1)     # To: header
        self.assertEqual(len(self.lines("list", "--from", "j\u00f6rg")), 2)    # From: header and envelope
        self.assertEqual(len(self.lines("list", "--subject", "/^password/")), 1)
        self.assertEqual(len(self.lines("list", "--subject", "k\u00f6ln")), 1)
        self.assertEqual(len(self.lines("list", "--header", "content-type=multipart/mixed")), 1)
        self.assertEqual(len(self.lines("list", "--header", "Message-ID=")), 1)
        self.assertEqual(len(self.lines("list", "--to", "bob", "--subject", "report")), 1)
        self.assertEqual([l.split("\t")[0] for l in self.lines("list", "--limit", "2")], names[3:])
        self.assertEqual(self.lines("list", "--since", "1h"), self.lines("list"))
        self.assertEqual(self.lines("list", "--since", "2099-01-01T00:00:00Z"), [])
        self.assertEqual(self.lines("count", "--to", "bob"), ["2"])
        self.assertEqual(self.lines("count"), ["5"])
        p = self.trap("list", "--subject", "/(/", code=2)
        self.assertIn(b"bad regular expression", p.stderr)
        p = self.trap("list", "--since", "yesterday", code=2)
        self.assertIn(b"--since", p.stderr)

    def test_invalid_utf8_still_gives_valid_json(self):
        self.send("x@example.com", ["y@example.com"],
                  b"Subject: broken \xff\xfe here\r\nX-Raw: \xc3\x28\r\n\r\nbody \xff\r\n",
                  " BODY=8BITMIME")
        data = json.loads(self.trap("list", "--json").stdout.decode("utf-8", "strict"))
        self.assertTrue(data[0]["subject"].startswith("broken "))
        shown = json.loads(self.trap("show", data[0]["id"], "--json").stdout.decode("utf-8", "strict"))
        self.assertTrue(any(h["name"] == "X-Raw" for h in shown["headers"]))


class Showing(CliTest):

    def test_show_decodes_headers_text_and_parts(self):
        names = self.send_all()
        out = self.trap("show", names[2]).stdout.decode("utf-8")
        self.assertIn("Id: %s\n" % names[2], out)
        self.assertIn("Envelope-From: <reports@app.example>\n", out)
        self.assertIn("Envelope-To: <carol@example.com>\n", out)
        self.assertIn("Subject: Monthly report\n", out)
        self.assertIn("Caf\u00e9 numbers attached.\n", out)      # quoted-printable, ISO-8859-1
        self.assertRegex(out, r"\n  1  text/plain; charset=iso-8859-1  \d+ octets\n")
        self.assertRegex(out, r"\n  2  text/html; charset=utf-8  \d+ octets\n")
        self.assertIn('  3  application/pdf  attachment  "report.pdf"  %d octets\n' % len(PDF), out)
        out = self.trap("show", names[1]).stdout.decode("utf-8")
        self.assertIn("Subject: %s\n" % SUBJECT_UTF8, out)
        out = self.trap("show", names[3]).stdout.decode("utf-8")
        self.assertIn("na\u00efve caf\u00e9 \u2014 \u00fcber\n", out)

    def test_show_json_raw_and_part(self):
        names = self.send_all()
        js = json.loads(self.trap("show", names[2], "--json").stdout)
        self.assertEqual([p["content_type"] for p in js["parts"]],
                         ["text/plain", "text/html", "application/pdf"])
        self.assertEqual(js["parts"][2]["filename"], "report.pdf")
        self.assertEqual(js["parts"][2]["size"], len(PDF))
        self.assertEqual(js["text"], "Caf\u00e9 numbers attached.\n")
        self.assertTrue(any(h["name"] == "X-Smtptrap-Rcpt-To" for h in js["headers"]))
        raw = self.trap("show", "--raw", names[2]).stdout
        with open(os.path.join(self.d.maildir, "new", names[2]), "rb") as f:
            self.assertEqual(raw, f.read())
        self.assertEqual(self.trap("show", names[2], "--part", "3").stdout, PDF)
        html = self.trap("show", names[2], "--part", "2").stdout.decode("utf-8")
        self.assertEqual(html, "<p>Caf\u00e9 numbers <b>attached</b>.</p>\n")
        p = self.trap("show", names[2], "--part", "4", code=1)
        self.assertIn(b"no part 4", p.stderr)

    def test_ids_by_prefix_and_errors(self):
        names = self.send_all()
        unique = names[0]
        # The shortest prefix that only this name has.
        for k in range(1, len(unique) + 1):
            if sum(n.startswith(unique[:k]) for n in names) == 1:
                break
        out = self.trap("show", unique[:k]).stdout.decode("utf-8")
        self.assertIn("Id: %s\n" % unique, out)
        p = self.trap("show", "does-not-exist", code=1)
        self.assertIn(b"no such message", p.stderr)
        common = os.path.commonprefix(names)
        if common:
            p = self.trap("show", common, code=1)
            self.assertIn(b"ambiguous", p.stderr)
        self.trap("show", code=2)


class Waiting(CliTest):

    def start_wait(self, *args):
        return subprocess.Popen([SMTPTRAP, "-c", self.conf, "wait"] + list(args),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def test_wait_returns_within_milliseconds_of_delivery(self):
        # --existing --since now: counts the message however early it lands.
        since = str(int(time.time()))
        w = self.start_wait("--to", "alice@example.com", "--timeout", "20", "--existing",
                            "--since", since)
        self.send("x@example.com", ["bob@example.com"], "Subject: not this one\r\n\r\nx\r\n")
        self.send("noreply@app.example", ["alice@example.com"], plain())
        landed = time.monotonic()
        out, err = w.communicate(timeout=20)
        took = time.monotonic() - landed
        self.assertEqual(w.returncode, 0, err)
        alice = [n for n, data in self.d.messages() if b"<alice@example.com>" in data]
        self.assertEqual(out.decode().split(), alice)
        self.assertLess(took, 0.5, "wait took %.3f s after the 250" % took)

    def test_wait_count(self):
        since = str(int(time.time()))
        w = self.start_wait("--count", "2", "--timeout", "20", "--existing", "--since", since)
        self.send("a@example.com", ["b@example.com"], "Subject: 1\r\n\r\nx\r\n")
        self.send("a@example.com", ["b@example.com"], "Subject: 2\r\n\r\nx\r\n")
        out, err = w.communicate(timeout=20)
        self.assertEqual(w.returncode, 0, err)
        self.assertEqual(sorted(out.decode().split()), sorted(os.listdir(os.path.join(self.d.maildir, "new"))))

    def test_wait_times_out_with_exit_1(self):
        self.send("a@example.com", ["b@example.com"], "Subject: old\r\n\r\nx\r\n")
        t0 = time.monotonic()
        p = self.trap("wait", "--timeout", "0.3", code=1)   # old mail does not count
        took = time.monotonic() - t0
        self.assertEqual(p.stdout, b"")
        self.assertGreaterEqual(took, 0.3)
        self.assertLess(took, 5)
        p = self.trap("wait", "--timeout", "0.3", "--existing")
        self.assertEqual(len(p.stdout.split()), 1)

    def test_never_reports_a_file_still_in_tmp(self):
        tmp = os.path.join(self.d.maildir, "tmp", "1795000000.M1P1Q1.mx.test")
        with open(tmp, "wb") as f:
            f.write(b"X-Smtptrap-Mail-From: <a@b.example>\r\nX-Smtptrap-Rcpt-To: <c@d.example>\r\n"
                    b"Subject: half\r\n\r\n")
        self.trap("wait", "--timeout", "0.3", "--existing", code=1)
        self.assertEqual(self.lines("list"), [])
        w = self.start_wait("--timeout", "20", "--existing")
        os.rename(tmp, os.path.join(self.d.maildir, "new", os.path.basename(tmp)))
        out, err = w.communicate(timeout=20)
        self.assertEqual((w.returncode, out.decode().split()), (0, [os.path.basename(tmp)]))


class Purging(CliTest):

    def test_purge_removes_only_what_matches(self):
        names = self.send_all()
        keep = os.path.join(self.d.maildir, "tmp", "being-written")
        with open(keep, "wb") as f:
            f.write(b"X-Smtptrap-Rcpt-To: <bob@example.com>\r\n")
        self.assertEqual(self.lines("purge", "--to", "bob@example.com"), ["2"])
        self.assertEqual([l.split("\t")[0] for l in self.lines("list")],
                         [names[0], names[3], names[4]])
        self.assertTrue(os.path.exists(keep))
        self.assertEqual(self.lines("purge"), ["3"])
        self.assertEqual(self.lines("list"), [])
        self.assertTrue(os.path.exists(keep))


class Control(CliTest):

    def test_control_verbs(self):
        out = self.lines("status")
        self.assertTrue(any(l.startswith("workers ") for l in out), out)
        self.assertNotIn("ok", out)
        self.assertRegex(self.lines("clock", "advance", "301")[0], r"^now=\d+ offset=301 ")
        self.assertRegex(self.lines("clock")[0], r" offset=301 ")
        self.assertRegex(self.lines("clock", "set", "0")[0], r" offset=0 ")
        p = self.trap("greylist", "list", code=1)
        self.assertIn(b"greylisting is not configured", p.stderr)
        self.assertEqual(self.lines("reload"), ["reloaded: generation 2"])
        with open(self.conf) as f:
            good = f.read()
        with open(self.conf, "a") as f:
            f.write("\nlimits = { recipients = -1; };\n")
        # (Given the socket: smtptrap itself refuses to read a broken file.)
        p = subprocess.run([SMTPTRAP, "-s", os.path.join(self.d.dir, "ctl"), "reload"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertRegex(p.stderr.decode(), r"451 reload failed, generation 2 keeps running: %s:\d+: "
                         % re.escape(self.conf))
        self.d.write_config(good)
        self.assertEqual(self.lines("reload"), ["reloaded: generation 3"])
        p = self.trap("clock", "backwards", code=2)
        self.assertIn(b"usage: clock", p.stderr)

    def test_socket_missing_or_not_configured(self):
        p = subprocess.run([SMTPTRAP, "-s", os.path.join(self.d.dir, "nope"), "status"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
        self.assertEqual(p.returncode, 2)
        self.assertIn(b"control socket %s: No such file or directory" % os.path.join(self.d.dir, "nope").encode(),
                      p.stderr)
        p = subprocess.run([SMTPTRAP, "-c", "/dev/null", "status"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
        self.assertEqual(p.returncode, 2)
        self.assertIn(b"no control socket", p.stderr)

    def test_option_errors(self):
        p = self.trap("list", "--foo", code=2)
        self.assertIn(b"smtptrap list: unknown option '--foo'", p.stderr)
        p = self.trap("list", "--limit", code=2)
        self.assertIn(b"smtptrap list: missing value for '--limit'", p.stderr)
        p = self.trap("count", "--json", code=2)
        self.assertIn(b"smtptrap count: does not take --json", p.stderr)
        p = self.trap("frobnicate", code=2)
        self.assertIn(b"unknown command 'frobnicate'", p.stderr)

    def test_capture_directory_option_and_missing_directory(self):
        self.send("a@example.com", ["b@example.com"], "Subject: x\r\n\r\nx\r\n")
        p = subprocess.run([SMTPTRAP, "-m", self.d.maildir, "count"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=30, cwd="/")
        self.assertEqual((p.returncode, p.stdout), (0, b"1\n"))
        p = subprocess.run([SMTPTRAP, "-m", os.path.join(self.d.dir, "none"), "list"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
        self.assertEqual(p.returncode, 2)
        self.assertIn(b"none", p.stderr)


if __name__ == "__main__":
    main()
