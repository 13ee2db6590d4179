// SPDX-License-Identifier: GPL-2.0-only
/*
 * Loopback TCP for postcopy_demo (see transport.h for the protocol).
 */
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "page.h"
#include "transport.h"

/* Blocking reads and writes of a whole buffer: -1 on EOF or an error. */
int read_full(int fd, void *buf, size_t len)
{
	size_t done = 0;
	ssize_t r;

	while (done < len) {
		r = read(fd, (char *)buf + done, len - done);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		done += r;
	}
	return 0;
}

int write_full(int fd, const void *buf, size_t len)
{
	size_t done = 0;
	ssize_t r;

	while (done < len) {
		r = write(fd, (const char *)buf + done, len - done);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		done += r;
	}
	return 0;
}

/*
 * The destination's read: a peer that sends nothing for @idle_ms is as lost
 * as a dead one (-1 with errno ETIMEDOUT).  The wait is before every read,
 * not only the first: a source that stalls in the middle of a page must not
 * hang the reader on the rest of it.
 */
int recv_full(int fd, void *buf, size_t len, int idle_ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	size_t done = 0;
	ssize_t r;

	while (done < len) {
		r = poll(&pfd, 1, idle_ms);
		if (r < 0 && errno == EINTR)
			continue;
		if (!r)
			errno = ETIMEDOUT;
		if (r <= 0)
			return -1;
		r = read(fd, (char *)buf + done, len - done);
		if (r < 0 && errno == EINTR)
			continue;
		if (!r)
			errno = ECONNRESET;
		if (r <= 0)
			return -1;
		done += r;
	}
	return 0;
}

/* MSG_PAGE and the page in one writev(): one segment on the wire. */
int send_page(int fd, uint32_t page, const void *data)
{
	struct msg hdr = { .op = MSG_PAGE, .page = page };
	struct iovec iov[2] = {
		{ &hdr, sizeof(hdr) },
		{ (void *)data, PAGE },
	};
	size_t len = sizeof(hdr) + PAGE;
	ssize_t r;

	do
		r = writev(fd, iov, 2);
	while (r < 0 && errno == EINTR);
	if (r == (ssize_t)len)
		return 0;
	if (r < 0)
		return -1;
	/* A short send: the rest by hand. */
	if ((size_t)r < sizeof(hdr)) {
		if (write_full(fd, (char *)&hdr + r, sizeof(hdr) - r))
			return -1;
		r = sizeof(hdr);
	}
	return write_full(fd, (const char *)data + (r - sizeof(hdr)), len - r);
}

/*
 * Bring lo up (the test VM's init leaves it down).  -1 if this kernel has
 * no TCP/IP: the demo needs it (configs/demo gives it to the debug kernels).
 */
int loopback_up(void)
{
	struct ifreq ifr = { .ifr_name = "lo" };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	if (!ioctl(fd, SIOCGIFFLAGS, &ifr) && !(ifr.ifr_flags & IFF_UP)) {
		ifr.ifr_flags |= IFF_UP;
		ioctl(fd, SIOCSIFFLAGS, &ifr);
	}
	close(fd);
	return 0;
}

static void nodelay(int fd)
{
	int one = 1;

	/* One page per request and reply: never wait to coalesce them. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/* A listening socket on 127.0.0.1, on a port the kernel picks (@port). */
int tcp_listen(uint16_t *port)
{
	struct sockaddr_in sa = {
		.sin_family = AF_INET,
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 64) ||
	    getsockname(fd, (struct sockaddr *)&sa, &len)) {
		close(fd);
		return -1;
	}
	*port = ntohs(sa.sin_port);
	return fd;
}

int tcp_accept(int lfd)
{
	int fd;

	do
		fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	while (fd < 0 && errno == EINTR);
	if (fd >= 0)
		nodelay(fd);
	return fd;
}

int tcp_connect(uint16_t port)
{
	struct sockaddr_in sa = {
		.sin_family = AF_INET,
		.sin_port = htons(port),
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), err;

	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		err = errno;
		close(fd);
		errno = err;
		return -1;
	}
	nodelay(fd);
	return fd;
}
