/* The fast path's send step in C (issue 18): one frame's RTP packets to one subscriber.
 *
 * server/media/fastpath.py calls send_frame() once per frame and subscriber. Per packet it
 * writes the 12-byte RTP header, the frame's header-extension block and the payload into one
 * buffer, protects it with the subscriber's libsrtp session (pylibsrtp's own srtp_protect, by
 * address: this module links nothing but Python) and sends it on the ICE pair's socket; a
 * frame of several packets of equal size (the last not longer) leaves in one sendmsg with UDP
 * generic segmentation offload. Nothing here keeps state between calls.
 *
 * What could not be sent (EAGAIN, or an error) comes back as protected packets for Python to
 * hand to asyncio's transport (which sends them when the socket is writable) or to report:
 * a packet is never protected twice (that would reuse an SRTP index).
 *
 * Optional: when it cannot be built (no compiler) fastpath.py does the same in Python.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

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

typedef int (*srtp_protect_fn)(void *ctx, void *rtp, int *len);

/* Protected packets, back to back (for GSO: equal sizes but the last). */
typedef struct {
    unsigned char data[MAX_PACKETS * (PACKET_ROOM + SRTP_TRAILER)];
    Py_ssize_t start[MAX_PACKETS + 1];
    Py_ssize_t count;
} frame_buffer;

static frame_buffer out; /* the GIL is held throughout: one caller at a time */

/* Room for one more packet in ``out``: where to write it, or NULL. */
static unsigned char *next_slot(void) {
    return out.count < MAX_PACKETS ? out.data + out.start[out.count] : NULL;
}

static void keep(Py_ssize_t length) {
    out.start[out.count + 1] = out.start[out.count] + length;
    out.count++;
}

static PyObject *result(int gso, int error, Py_ssize_t unsent_from) {
    if (unsent_from >= out.count) return Py_BuildValue("(iiO)", gso, error, Py_None);
    PyObject *rest = PyList_New(0);
    if (rest == NULL) return NULL;
    for (Py_ssize_t i = unsent_from; i < out.count; i++) {
        PyObject *packet = PyBytes_FromStringAndSize(
            (const char *)out.data + out.start[i], out.start[i + 1] - out.start[i]);
        if (packet == NULL || PyList_Append(rest, packet) < 0) {
            Py_XDECREF(packet);
            Py_DECREF(rest);
            return NULL;
        }
        Py_DECREF(packet);
    }
    return Py_BuildValue("(iiN)", gso, error, rest);
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

static int send_gso(int fd, const Py_buffer *sockaddr) {
    union {
        char buf[CMSG_SPACE(sizeof(uint16_t))];
        struct cmsghdr align;
    } control;
    memset(&control, 0, sizeof(control));
    struct iovec iov = {.iov_base = out.data, .iov_len = (size_t)out.start[out.count]};
    struct msghdr msg = {0};
    msg.msg_name = sockaddr->buf;
    msg.msg_namelen = (socklen_t)sockaddr->len;
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
    return sendmsg(fd, &msg, 0) < 0 ? errno : 0;
}

PyDoc_STRVAR(send_frame_doc,
    "send_frame(protect, session, fd, sockaddr, b0, payload_type, seq, timestamp, ssrc, ext,"
    " payloads, gso) -> (gso_used, error, unsent)\n\n"
    "Protect and send one frame's RTP packets (the last with the marker bit). ``protect`` and\n"
    "``session``: addresses of srtp_protect and the srtp_t; ``sockaddr``: the destination as a\n"
    "struct sockaddr. ``gso_used``: 1 when the packets went (or were tried) in one GSO sendmsg;\n"
    "``error``: the errno of the send that failed, else 0; ``unsent``: None or the protected\n"
    "packets not sent, in order (at most 64: the rest of a bigger frame is lost, as a full\n"
    "socket buffer would lose it).");

static PyObject *send_frame(PyObject *self, PyObject *args) {
    unsigned long long protect_address, session_address;
    int fd, b0, payload_type, gso;
    unsigned int seq, timestamp, ssrc;
    Py_buffer sockaddr, ext;
    PyObject *payloads;
    (void)self;
    if (!PyArg_ParseTuple(args, "KKiy*iiIIIy*O!p", &protect_address, &session_address, &fd,
                          &sockaddr, &b0, &payload_type, &seq, &timestamp, &ssrc, &ext,
                          &PyList_Type, &payloads, &gso))
        return NULL;
    PyObject *answer = NULL;
    srtp_protect_fn protect = (srtp_protect_fn)(uintptr_t)protect_address;
    void *session = (void *)(uintptr_t)session_address;
    const struct sockaddr *to = (const struct sockaddr *)sockaddr.buf;
    socklen_t to_length = (socklen_t)sockaddr.len;
    Py_ssize_t n = PyList_GET_SIZE(payloads);
    /* all of a frame first, then one GSO send; else each packet sent as soon as protected */
    int stack_all = gso && n > 1 && n <= MAX_PACKETS;
    Py_ssize_t header = 12 + ext.len;
    unsigned char single[PACKET_ROOM + SRTP_TRAILER];
    int error = 0;
    out.count = 0;
    out.start[0] = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = PyList_GET_ITEM(payloads, i);
        if (!PyBytes_Check(item)) {
            PyErr_SetString(PyExc_TypeError, "payloads must be bytes");
            goto done;
        }
        Py_ssize_t length = header + PyBytes_GET_SIZE(item);
        if (length > PACKET_ROOM) {
            PyErr_SetString(PyExc_ValueError, "RTP packet too long for the SRTP buffer");
            goto done;
        }
        /* kept for GSO or for asyncio once a send failed; else sent straight from here */
        int kept = stack_all || error != 0;
        unsigned char *p = kept ? next_slot() : single;
        if (p == NULL) break; /* more than asyncio is handed at once: the rest is lost */
        unsigned int s = (seq + (unsigned int)i) & 0xFFFF;
        p[0] = (unsigned char)b0;
        p[1] = (unsigned char)(i == n - 1 ? (payload_type | 0x80) : payload_type);
        p[2] = (unsigned char)(s >> 8);
        p[3] = (unsigned char)s;
        p[4] = (unsigned char)(timestamp >> 24);
        p[5] = (unsigned char)(timestamp >> 16);
        p[6] = (unsigned char)(timestamp >> 8);
        p[7] = (unsigned char)timestamp;
        p[8] = (unsigned char)(ssrc >> 24);
        p[9] = (unsigned char)(ssrc >> 16);
        p[10] = (unsigned char)(ssrc >> 8);
        p[11] = (unsigned char)ssrc;
        memcpy(p + 12, ext.buf, (size_t)ext.len);
        memcpy(p + header, PyBytes_AS_STRING(item), (size_t)PyBytes_GET_SIZE(item));
        int protected_length = (int)length;
        if (protect(session, p, &protected_length) != 0) continue; /* as Session.protect: dropped */
        if (kept) {
            keep(protected_length);
        } else if (sendto(fd, p, (size_t)protected_length, 0, to, to_length) < 0) {
            error = errno;
            memcpy(out.data, p, (size_t)protected_length); /* out is empty until now */
            keep(protected_length);
        }
    }
    if (!stack_all || error != 0) {
        answer = result(0, error, 0);
    } else if (gso_possible()) {
        error = send_gso(fd, &sockaddr);
        answer = result(1, error, error == 0 ? out.count : 0);
    } else {
        Py_ssize_t i = 0;
        for (; i < out.count; i++) {
            const unsigned char *p = out.data + out.start[i];
            if (sendto(fd, p, (size_t)(out.start[i + 1] - out.start[i]), 0, to, to_length) < 0) {
                error = errno;
                break;
            }
        }
        answer = result(0, error, i);
    }
done:
    PyBuffer_Release(&sockaddr);
    PyBuffer_Release(&ext);
    return answer;
}

static PyMethodDef methods[] = {
    {"send_frame", send_frame, METH_VARARGS, send_frame_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_rtpsend",
    "One frame's RTP packets protected and sent in C (server.media.fastpath).", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__rtpsend(void) { return PyModule_Create(&module); }
