/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The transport between the source and the destination: loopback TCP, one
 * connection per thread that fetches (each vCPU, each uffd handler) and one
 * for the push stream, so that no fetch queues behind another thread's.
 *
 * The protocol, in host byte order (both ends are this program):
 *   destination -> source   MSG_GET page       send that page now
 *                           MSG_PUSH           stream every page not yet
 *                                              sent, on this connection
 *   source -> destination   MSG_PAGE page + the PAGE bytes of that page
 *                           MSG_END            the push stream is over
 */
#ifndef POSTCOPY_TRANSPORT_H
#define POSTCOPY_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>

struct msg {
	uint32_t op;
	uint32_t page;
};
#define MSG_GET		1
#define MSG_PUSH	2
#define MSG_PAGE	3
#define MSG_END		4

int read_full(int fd, void *buf, size_t len);
int write_full(int fd, const void *buf, size_t len);
int recv_full(int fd, void *buf, size_t len, int idle_ms);
int send_page(int fd, uint32_t page, const void *data);

int loopback_up(void);
int tcp_listen(uint16_t *port);
int tcp_accept(int lfd);
int tcp_connect(uint16_t port);

#endif
