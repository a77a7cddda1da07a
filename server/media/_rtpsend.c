/* The fast path's send step in C (issue 18): a subscriber's RTP state, and one frame to every
 * subscriber of a publisher in one call.
 *
 * A ``Member`` is one subscriber's sender of one kind (server/media/fastpath.py's FastSender
 * owns one): its route (the pylibsrtp session, the ICE pair's socket and the peer's address),
 * what was negotiated (SSRC, payload type, the header-extension block around abs-send-time),
 * its sequence number, its counters, the sender-report fields of its RTCRtpSender (written into
 * the sender's __dict__, where aiortc's RTCP loop reads them) and a history of the last frames
 * sent (for NACKs). ``Member.send`` sends one frame; ``fan_out`` sends one frame to a list of
 * members, each at its own timestamp offset: the whole fan-out of a frame in one call, with no
 * Python per subscriber (server/media/fanout.py).
 *
 * Per packet: the 12-byte header, the extension block and the payload into one buffer, libsrtp's
 * srtp_protect on the subscriber's session (pylibsrtp's own function, by address: this module
 * links nothing but Python) and a send on the socket; a frame of several packets of equal size
 * (the last not longer) leaves in one sendmsg with UDP generic segmentation offload.
 *
 * What could not be sent (EAGAIN, an error, or ``direct`` false: a socket asyncio's transport
 * is still draining, a TURN relay) comes back protected for Python to hand to asyncio's
 * transport or to report: a packet is never protected twice (that would reuse an SRTP index).
 *
 * Optional: without a compiler server/media/pymember.py does the same in Python.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#ifndef SOL_UDP
#define SOL_UDP 17
#endif
#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif

#define PACKET_ROOM 1500    /* header + extensions + payload, as pylibsrtp's buffer */
#define SRTP_TRAILER 144    /* SRTP_MAX_TRAILER_LEN: auth tag and MKI */
#define MAX_PACKETS 64      /* UDP_MAX_SEGMENTS; also what one call keeps for asyncio */
#define MAX_GSO_BYTES 60000 /* one datagram's worth, as fastpath.MAX_GSO_BYTES */
#define EXT_ROOM 64         /* the extension block around abs-send-time (mid + 4-byte header) */
#define HISTORY 32          /* frames kept for NACKs, as fastpath.HISTORY_FRAMES */

typedef int (*srtp_protect_fn)(void *ctx, void *rtp, int *len);
static srtp_protect_fn protect_function = NULL; /* use_protect() */

/* Protected packets, back to back (for GSO: equal sizes but the last). */
typedef struct {
    unsigned char data[MAX_PACKETS * (PACKET_ROOM + SRTP_TRAILER)];
    Py_ssize_t start[MAX_PACKETS + 1];
    Py_ssize_t count;
} frame_buffer;

static frame_buffer out; /* the GIL is held throughout: one caller at a time */

/* What a frame (fastpath.PacketizedFrame) gives every member, read once per call. */
typedef struct {
    PyObject *frame;
    PyObject *payloads; /* a list of bytes */
    const unsigned char *abs_send_time; /* 3 bytes */
    PyObject *ntp_time;                 /* an int */
    unsigned long long octets;
} frame_view;

typedef struct {
    uint16_t first;
    uint32_t timestamp;
    PyObject *frame; /* NULL: an empty slot */
} sent_frame;

typedef struct {
    PyObject_HEAD
    /* route */
    PyObject *srtp; /* the pylibsrtp Session: keeps the srtp_t alive */
    void *session;
    PyObject *sock; /* socket.socket, or None: nothing direct (a TURN relay) */
    struct sockaddr_storage to;
    socklen_t to_length;
    int gso;
    /* negotiated */
    int configured;
    uint32_t ssrc;
    unsigned int payload_type;
    unsigned char ext_prefix[EXT_ROOM], ext_suffix[EXT_ROOM];
    Py_ssize_t prefix_length, suffix_length;
    int has_abs;
    PyObject *report;      /* the sender's __dict__, or NULL */
    PyObject *report_keys; /* (ntp timestamp, rtp timestamp, packet count, octet count) */
    /* per frame */
    unsigned int seq;
    unsigned int ts_offset; /* fan_out: timestamp = ts_offset + the source's pts */
    uint32_t last_timestamp;
    unsigned long long frames_sent, packets_sent, octets_sent, gso_sends, native_sends;
    sent_frame history[HISTORY];
    int history_next;
} Member;

static PyObject *s_payloads, *s_abs_send_time, *s_ntp_time, *s_octets, *s_fileno;

/* -- a frame's packets ------------------------------------------------------------------- */

static int read_frame(PyObject *frame, frame_view *view) {
    view->frame = frame;
    view->payloads = PyObject_GetAttr(frame, s_payloads);
    PyObject *abs = PyObject_GetAttr(frame, s_abs_send_time);
    view->ntp_time = PyObject_GetAttr(frame, s_ntp_time);
    PyObject *octets = PyObject_GetAttr(frame, s_octets);
    int ok = view->payloads != NULL && abs != NULL && view->ntp_time != NULL && octets != NULL;
    if (ok && (!PyList_Check(view->payloads) || !PyBytes_Check(abs) || PyBytes_GET_SIZE(abs) != 3)) {
        PyErr_SetString(PyExc_TypeError, "a frame needs payloads (list) and abs_send_time (3 bytes)");
        ok = 0;
    }
    if (ok) {
        view->abs_send_time = (const unsigned char *)PyBytes_AS_STRING(abs);
        view->octets = PyLong_AsUnsignedLongLong(octets);
        ok = !PyErr_Occurred();
    }
    Py_XDECREF(abs); /* the frame keeps it, as it keeps the other attributes */
    Py_XDECREF(octets);
    if (!ok) {
        Py_CLEAR(view->payloads);
        Py_CLEAR(view->ntp_time);
        return -1;
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(view->payloads); i++) {
        if (!PyBytes_Check(PyList_GET_ITEM(view->payloads, i))) {
            PyErr_SetString(PyExc_TypeError, "payloads must be bytes");
            Py_CLEAR(view->payloads);
            Py_CLEAR(view->ntp_time);
            return -1;
        }
    }
    return 0;
}

static void release_frame(frame_view *view) {
    Py_CLEAR(view->payloads);
    Py_CLEAR(view->ntp_time);
}

static PyObject *unsent_list(Py_ssize_t from) {
    PyObject *rest = PyList_New(0);
    if (rest == NULL) return NULL;
    for (Py_ssize_t i = from; i < out.count; i++) {
        PyObject *packet = PyBytes_FromStringAndSize(
            (const char *)out.data + out.start[i], out.start[i + 1] - out.start[i]);
        if (packet == NULL || PyList_Append(rest, packet) < 0) {
            Py_XDECREF(packet);
            Py_DECREF(rest);
            return NULL;
        }
        Py_DECREF(packet);
    }
    return rest;
}

static int gso_possible(void) {
    if (out.count < 2) return 0;
    Py_ssize_t size = out.start[1] - out.start[0];
    if (size * out.count > MAX_GSO_BYTES) return 0;
    for (Py_ssize_t i = 1; i < out.count; i++) {
        Py_ssize_t length = out.start[i + 1] - out.start[i];
        if (length > size || (i < out.count - 1 && length != size)) return 0;
    }
    return 1;
}

static int send_gso(Member *m, int fd) {
    union {
        char buf[CMSG_SPACE(sizeof(uint16_t))];
        struct cmsghdr align;
    } control;
    memset(&control, 0, sizeof(control));
    struct iovec iov = {.iov_base = out.data, .iov_len = (size_t)out.start[out.count]};
    struct msghdr msg = {0};
    msg.msg_name = &m->to;
    msg.msg_namelen = m->to_length;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.buf;
    msg.msg_controllen = sizeof(control.buf);
    struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
    cmsg->cmsg_level = SOL_UDP;
    cmsg->cmsg_type = UDP_SEGMENT;
    cmsg->cmsg_len = CMSG_LEN(sizeof(uint16_t));
    uint16_t segment = (uint16_t)(out.start[1] - out.start[0]);
    memcpy(CMSG_DATA(cmsg), &segment, sizeof(segment));
    return sendmsg(fd, &msg, MSG_DONTWAIT) < 0 ? errno : 0;
}

/* The socket's descriptor now (-1 once closed: its number may already be another socket's). */
static int member_fd(Member *m) {
    if (m->sock == Py_None) return -1;
    PyObject *fileno = PyObject_CallMethodNoArgs(m->sock, s_fileno);
    if (fileno == NULL) return -2;
    long fd = PyLong_AsLong(fileno);
    Py_DECREF(fileno);
    return fd == -1 && PyErr_Occurred() ? -2 : (int)fd;
}

static int remember(Member *m, PyObject *frame, uint16_t first, uint32_t timestamp) {
    sent_frame *slot = &m->history[m->history_next];
    Py_INCREF(frame);
    Py_XSETREF(slot->frame, frame);
    slot->first = first;
    slot->timestamp = timestamp;
    m->history_next = (m->history_next + 1) % HISTORY;
    return 0;
}

static int set_report(Member *m, Py_ssize_t index, PyObject *value) {
    if (value == NULL) return -1;
    int rc = PyDict_SetItem(m->report, PyTuple_GET_ITEM(m->report_keys, index), value);
    Py_DECREF(value);
    return rc;
}

/* The sender-report fields aiortc's RTCP loop reads (RTCRtpSender._run_rtcp). */
static int update_report(Member *m, frame_view *f, uint32_t timestamp) {
    if (m->report == NULL) return 0;
    Py_INCREF(f->ntp_time);
    if (set_report(m, 0, f->ntp_time) < 0) return -1;
    if (set_report(m, 1, PyLong_FromUnsignedLong(timestamp)) < 0) return -1;
    if (set_report(m, 2, PyLong_FromUnsignedLongLong(m->packets_sent)) < 0) return -1;
    return set_report(m, 3, PyLong_FromUnsignedLongLong(m->octets_sent));
}

/* ``out`` is full: its packets to the end of ``*spill`` (created on first use); ``out`` empty. */
static int spill_over(PyObject **spill) {
    PyObject *packets = unsent_list(0);
    if (packets == NULL) return -1;
    if (*spill == NULL) {
        *spill = packets;
    } else {
        int rc = PyList_SetSlice(*spill, PY_SSIZE_T_MAX, PY_SSIZE_T_MAX, packets);
        Py_DECREF(packets);
        if (rc < 0) return -1;
    }
    out.count = 0;
    out.start[0] = 0;
    return 0;
}

/* Send one frame to one member at ``timestamp``. Returns NULL with an exception set, Py_None
 * when every packet went, else (gso_used, error, unsent or None) for Python to settle. */
static PyObject *send_to(Member *m, frame_view *f, uint32_t timestamp, int direct) {
    if (!m->configured || m->srtp == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "the member has no route or was not configured");
        return NULL;
    }
    if (protect_function == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "use_protect() was not called");
        return NULL;
    }
    Py_ssize_t n = PyList_GET_SIZE(f->payloads);
    int fd = -1;
    if (direct) {
        fd = member_fd(m);
        if (fd == -2) return NULL;
        if (fd < 0) direct = 0; /* no socket (TURN) or a closed one: Python decides */
    }
    Py_ssize_t ext_length = m->prefix_length + (m->has_abs ? 3 : 0) + m->suffix_length;
    Py_ssize_t header = 12 + ext_length;
    unsigned char ext[3 * EXT_ROOM];
    memcpy(ext, m->ext_prefix, (size_t)m->prefix_length);
    if (m->has_abs) memcpy(ext + m->prefix_length, f->abs_send_time, 3);
    memcpy(ext + ext_length - m->suffix_length, m->ext_suffix, (size_t)m->suffix_length);
    unsigned char b0 = ext_length ? 0x90 : 0x80;
    /* all of a frame first, then one GSO send (or none: not direct); else each packet sent
     * as soon as it is protected */
    int stack_all = !direct || (m->gso && n > 1 && n <= MAX_PACKETS);
    unsigned char single[PACKET_ROOM + SRTP_TRAILER];
    PyObject *spill = NULL; /* what did not fit in ``out``, for asyncio (a big frame) */
    int error = 0, gso_used = 0;
    uint16_t first = (uint16_t)m->seq;
    out.count = 0;
    out.start[0] = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = PyList_GET_ITEM(f->payloads, i);
        Py_ssize_t length = header + PyBytes_GET_SIZE(item);
        if (length > PACKET_ROOM) {
            Py_XDECREF(spill);
            PyErr_SetString(PyExc_ValueError, "RTP packet too long for the SRTP buffer");
            return NULL;
        }
        int kept = stack_all || error != 0; /* for GSO, or for asyncio once a send failed */
        if (kept && out.count == MAX_PACKETS) { /* only ever for asyncio: hand these over */
            if (spill_over(&spill) < 0) return NULL;
        }
        unsigned char *p = kept ? out.data + out.start[out.count] : single;
        unsigned int s = (m->seq + (unsigned int)i) & 0xFFFF;
        p[0] = b0;
        p[1] = (unsigned char)(i == n - 1 ? (m->payload_type | 0x80) : m->payload_type);
        p[2] = (unsigned char)(s >> 8);
        p[3] = (unsigned char)s;
        p[4] = (unsigned char)(timestamp >> 24);
        p[5] = (unsigned char)(timestamp >> 16);
        p[6] = (unsigned char)(timestamp >> 8);
        p[7] = (unsigned char)timestamp;
        p[8] = (unsigned char)(m->ssrc >> 24);
        p[9] = (unsigned char)(m->ssrc >> 16);
        p[10] = (unsigned char)(m->ssrc >> 8);
        p[11] = (unsigned char)m->ssrc;
        memcpy(p + 12, ext, (size_t)ext_length);
        memcpy(p + header, PyBytes_AS_STRING(item), (size_t)PyBytes_GET_SIZE(item));
        int protected_length = (int)length;
        if (protect_function(m->session, p, &protected_length) != 0) continue; /* dropped */
        if (kept) {
            out.start[out.count + 1] = out.start[out.count] + protected_length;
            out.count++;
        } else if (sendto(fd, p, (size_t)protected_length, MSG_DONTWAIT,
                          (const struct sockaddr *)&m->to, m->to_length) < 0) {
            error = errno;
            memcpy(out.data, p, (size_t)protected_length); /* out is empty until now */
            out.start[1] = protected_length;
            out.count = 1;
        }
    }
    Py_ssize_t unsent_from = out.count; /* nothing left for Python */
    if (!direct) {
        unsent_from = 0;
    } else if (error != 0) {
        unsent_from = 0;
    } else if (stack_all && gso_possible()) {
        gso_used = 1;
        error = send_gso(m, fd);
        if (error != 0) unsent_from = 0;
    } else if (stack_all) {
        for (Py_ssize_t i = 0; i < out.count; i++) {
            const unsigned char *p = out.data + out.start[i];
            if (sendto(fd, p, (size_t)(out.start[i + 1] - out.start[i]), MSG_DONTWAIT,
                       (const struct sockaddr *)&m->to, m->to_length) < 0) {
                error = errno;
                unsent_from = i;
                break;
            }
        }
    }
    m->seq = (m->seq + (unsigned int)n) & 0xFFFF;
    m->last_timestamp = timestamp;
    m->frames_sent++;
    m->packets_sent += (unsigned long long)n;
    m->octets_sent += f->octets;
    if (direct) m->native_sends++;
    if (gso_used && error == 0) m->gso_sends++;
    remember(m, f->frame, first, timestamp);
    if (update_report(m, f, timestamp) < 0) {
        Py_XDECREF(spill);
        return NULL;
    }
    if (spill == NULL && unsent_from >= out.count && error == 0 && direct) Py_RETURN_NONE;
    PyObject *rest = Py_NewRef(Py_None);
    if (spill != NULL || unsent_from < out.count) {
        Py_SETREF(rest, unsent_list(unsent_from));
        if (rest != NULL && spill != NULL) {
            int rc = PyList_SetSlice(spill, PY_SSIZE_T_MAX, PY_SSIZE_T_MAX, rest);
            Py_SETREF(rest, rc < 0 ? NULL : Py_NewRef(spill));
        }
    }
    Py_XDECREF(spill);
    if (rest == NULL) return NULL;
    return Py_BuildValue("(iiN)", gso_used, error, rest);
}

/* -- Member ------------------------------------------------------------------------------ */

static int member_traverse(Member *m, visitproc visit, void *arg) {
    Py_VISIT(m->srtp);
    Py_VISIT(m->sock);
    Py_VISIT(m->report);
    Py_VISIT(m->report_keys);
    for (int i = 0; i < HISTORY; i++) Py_VISIT(m->history[i].frame);
    return 0;
}

static int member_clear(Member *m) {
    Py_CLEAR(m->srtp);
    Py_CLEAR(m->sock);
    Py_CLEAR(m->report);
    Py_CLEAR(m->report_keys);
    for (int i = 0; i < HISTORY; i++) Py_CLEAR(m->history[i].frame);
    return 0;
}

static void member_dealloc(Member *m) {
    PyObject_GC_UnTrack(m);
    member_clear(m);
    Py_TYPE(m)->tp_free((PyObject *)m);
}

static int member_init(Member *m, PyObject *args, PyObject *kwargs) {
    static char *names[] = {"gso", NULL};
    int gso = 1;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|p", names, &gso)) return -1;
    m->gso = gso;
    return 0;
}

static PyObject *member_configure(Member *m, PyObject *args) {
    unsigned int ssrc, payload_type;
    Py_buffer prefix, suffix;
    int has_abs;
    PyObject *report, *keys;
    if (!PyArg_ParseTuple(args, "IIy*y*pOO", &ssrc, &payload_type, &prefix, &suffix, &has_abs,
                          &report, &keys))
        return NULL;
    PyObject *answer = NULL;
    if (prefix.len > EXT_ROOM || suffix.len > EXT_ROOM) {
        PyErr_SetString(PyExc_ValueError, "header-extension block too long");
    } else if (report != Py_None && (!PyDict_Check(report) || !PyTuple_Check(keys) ||
                                     PyTuple_GET_SIZE(keys) != 4)) {
        PyErr_SetString(PyExc_TypeError, "report: a dict and a tuple of its 4 keys, or None");
    } else {
        m->ssrc = ssrc;
        m->payload_type = payload_type & 0x7F;
        memcpy(m->ext_prefix, prefix.buf, (size_t)prefix.len);
        memcpy(m->ext_suffix, suffix.buf, (size_t)suffix.len);
        m->prefix_length = prefix.len;
        m->suffix_length = suffix.len;
        m->has_abs = has_abs;
        Py_XSETREF(m->report, report == Py_None ? NULL : Py_NewRef(report));
        Py_XSETREF(m->report_keys, report == Py_None ? NULL : Py_NewRef(keys));
        m->configured = 1;
        answer = Py_NewRef(Py_None);
    }
    PyBuffer_Release(&prefix);
    PyBuffer_Release(&suffix);
    return answer;
}

static PyObject *member_set_route(Member *m, PyObject *args) {
    PyObject *srtp, *sock, *addr;
    unsigned long long session;
    Py_buffer to;
    if (!PyArg_ParseTuple(args, "OKOy*O", &srtp, &session, &sock, &to, &addr)) return NULL;
    (void)addr; /* the Python twin's; here the struct sockaddr */
    if (to.len > (Py_ssize_t)sizeof(m->to) || (sock != Py_None && to.len == 0) || session == 0) {
        PyBuffer_Release(&to);
        PyErr_SetString(PyExc_ValueError, "a route needs an SRTP session and a sockaddr");
        return NULL;
    }
    memset(&m->to, 0, sizeof(m->to));
    memcpy(&m->to, to.buf, (size_t)to.len);
    m->to_length = (socklen_t)to.len;
    PyBuffer_Release(&to);
    Py_XSETREF(m->srtp, Py_NewRef(srtp));
    Py_XSETREF(m->sock, Py_NewRef(sock));
    m->session = (void *)(uintptr_t)session;
    Py_RETURN_NONE;
}

static PyObject *member_send(Member *m, PyObject *args) {
    PyObject *frame;
    unsigned int timestamp;
    int direct;
    if (!PyArg_ParseTuple(args, "OIp", &frame, &timestamp, &direct)) return NULL;
    frame_view f;
    if (read_frame(frame, &f) < 0) return NULL;
    PyObject *answer = send_to(m, &f, timestamp, direct);
    release_frame(&f);
    if (answer == Py_None) {
        Py_DECREF(answer);
        return Py_BuildValue("(iiO)", 0, 0, Py_None);
    }
    return answer;
}

static PyObject *member_find(Member *m, PyObject *args) {
    unsigned int seq;
    if (!PyArg_ParseTuple(args, "I", &seq)) return NULL;
    for (int k = 1; k <= HISTORY; k++) { /* newest first */
        sent_frame *slot = &m->history[(m->history_next - k + HISTORY) % HISTORY];
        if (slot->frame == NULL) break;
        PyObject *payloads = PyObject_GetAttr(slot->frame, s_payloads);
        if (payloads == NULL) return NULL;
        Py_ssize_t count = PyList_Check(payloads) ? PyList_GET_SIZE(payloads) : 0;
        Py_DECREF(payloads);
        unsigned int index = (seq - slot->first) & 0xFFFF;
        if (index < (unsigned int)count)
            return Py_BuildValue("(IIO)", (unsigned int)slot->first, slot->timestamp, slot->frame);
    }
    Py_RETURN_NONE;
}

static PyObject *member_get_seq(Member *m, void *closure) {
    (void)closure;
    return PyLong_FromUnsignedLong(m->seq);
}

static int member_set_seq(Member *m, PyObject *value, void *closure) {
    (void)closure;
    unsigned long seq = value == NULL ? 0 : PyLong_AsUnsignedLong(value);
    if (value == NULL || (seq == (unsigned long)-1 && PyErr_Occurred())) {
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_TypeError, "seq cannot be deleted");
        return -1;
    }
    m->seq = (unsigned int)(seq & 0xFFFF);
    return 0;
}

static PyMethodDef member_methods[] = {
    {"configure", (PyCFunction)member_configure, METH_VARARGS,
     "configure(ssrc, payload_type, ext_prefix, ext_suffix, has_abs, report, report_keys)"},
    {"set_route", (PyCFunction)member_set_route, METH_VARARGS,
     "set_route(srtp, session_address, sock, sockaddr, addr)"},
    {"send", (PyCFunction)member_send, METH_VARARGS,
     "send(frame, timestamp, direct) -> (gso_used, error, unsent)"},
    {"find", (PyCFunction)member_find, METH_VARARGS,
     "find(seq) -> (first_seq, timestamp, frame) of the sent frame holding seq, or None"},
    {NULL, NULL, 0, NULL},
};

static PyMemberDef member_members[] = {
    {"gso", T_INT, offsetof(Member, gso), 0, "one sendmsg per frame where possible"},
    {"ts_offset", T_UINT, offsetof(Member, ts_offset), 0, "fan_out: timestamp - source pts"},
    {"last_timestamp", T_UINT, offsetof(Member, last_timestamp), READONLY, NULL},
    {"frames_sent", T_ULONGLONG, offsetof(Member, frames_sent), READONLY, NULL},
    {"packets_sent", T_ULONGLONG, offsetof(Member, packets_sent), READONLY, NULL},
    {"octets_sent", T_ULONGLONG, offsetof(Member, octets_sent), READONLY, NULL},
    {"gso_sends", T_ULONGLONG, offsetof(Member, gso_sends), READONLY, NULL},
    {"native_sends", T_ULONGLONG, offsetof(Member, native_sends), READONLY, NULL},
    {NULL, 0, 0, 0, NULL},
};

static PyGetSetDef member_getset[] = {
    {"seq", (getter)member_get_seq, (setter)member_set_seq, "the next sequence number", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject MemberType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "server.media._rtpsend.Member",
    .tp_basicsize = sizeof(Member),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "One subscriber's RTP sender of one kind (see the module's comment).",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)member_init,
    .tp_dealloc = (destructor)member_dealloc,
    .tp_traverse = (traverseproc)member_traverse,
    .tp_clear = (inquiry)member_clear,
    .tp_methods = member_methods,
    .tp_members = member_members,
    .tp_getset = member_getset,
};

/* -- module ------------------------------------------------------------------------------ */

PyDoc_STRVAR(fan_out_doc,
    "fan_out(members, frame, source_pts) -> None or [(member, gso_used, error, unsent)]\n\n"
    "Send ``frame`` to every member directly, each at timestamp ts_offset + source_pts.\n"
    "None when every packet went; else, for each member whose send did not all go, what\n"
    "Member.send would have returned.");

static PyObject *fan_out(PyObject *self, PyObject *args) {
    PyObject *members, *frame;
    unsigned int source_pts;
    (void)self;
    if (!PyArg_ParseTuple(args, "O!OI", &PyList_Type, &members, &frame, &source_pts)) return NULL;
    frame_view f;
    if (read_frame(frame, &f) < 0) return NULL;
    PyObject *failed = NULL;
    Py_INCREF(members); /* a list Python may change while it is read (it will not: GIL held) */
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(members); i++) {
        PyObject *item = PyList_GET_ITEM(members, i);
        if (!PyObject_TypeCheck(item, &MemberType)) {
            PyErr_SetString(PyExc_TypeError, "members must be Member objects");
            goto error;
        }
        Member *m = (Member *)item;
        PyObject *answer = send_to(m, &f, (m->ts_offset + source_pts) & 0xFFFFFFFFu, 1);
        if (answer == NULL) goto error;
        if (answer == Py_None) {
            Py_DECREF(answer);
            continue;
        }
        if (failed == NULL && (failed = PyList_New(0)) == NULL) {
            Py_DECREF(answer);
            goto error;
        }
        PyObject *entry = Py_BuildValue("(ONNN)", item, PySequence_GetItem(answer, 0),
                                        PySequence_GetItem(answer, 1),
                                        PySequence_GetItem(answer, 2));
        Py_DECREF(answer);
        if (entry == NULL || PyList_Append(failed, entry) < 0) {
            Py_XDECREF(entry);
            goto error;
        }
        Py_DECREF(entry);
    }
    Py_DECREF(members);
    release_frame(&f);
    if (failed == NULL) Py_RETURN_NONE;
    return failed;
error:
    Py_DECREF(members);
    Py_XDECREF(failed);
    release_frame(&f);
    return NULL;
}

static PyObject *use_protect(PyObject *self, PyObject *args) {
    unsigned long long address;
    (void)self;
    if (!PyArg_ParseTuple(args, "K", &address)) return NULL;
    protect_function = (srtp_protect_fn)(uintptr_t)address;
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"fan_out", fan_out, METH_VARARGS, fan_out_doc},
    {"use_protect", use_protect, METH_VARARGS,
     "use_protect(address): libsrtp's srtp_protect, as pylibsrtp loaded it"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_rtpsend",
    "Subscribers' RTP sent in C: one frame to every subscriber in one call (fastpath, fanout).",
    -1, methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__rtpsend(void) {
    if (PyType_Ready(&MemberType) < 0) return NULL;
    s_payloads = PyUnicode_InternFromString("payloads");
    s_abs_send_time = PyUnicode_InternFromString("abs_send_time");
    s_ntp_time = PyUnicode_InternFromString("ntp_time");
    s_octets = PyUnicode_InternFromString("octets");
    s_fileno = PyUnicode_InternFromString("fileno");
    if (!s_payloads || !s_abs_send_time || !s_ntp_time || !s_octets || !s_fileno) return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL) return NULL;
    Py_INCREF(&MemberType);
    if (PyModule_AddObject(m, "Member", (PyObject *)&MemberType) < 0) {
        Py_DECREF(&MemberType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
