// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * vCPU threads from libvirt.  libvirt owns QEMU's only monitor, so the
 * bridge reads what libvirt learnt from it: the domain's status file
 * (/run/libvirt/qemu/NAME.xml) lists <vcpu id='N' pid='TID'/> under
 * <domstatus pid='QEMU_PID'><vcpus>.  libvirt writes it once QEMU runs,
 * after QEMU has connected to our socket: so the bridge starts before
 * QEMU (hook phase "prepare") and waits here for the file to name the
 * QEMU that connected.  Calling back into libvirt (virsh) from its own
 * hook would deadlock; a file read cannot.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include "bridge.h"

#define LIBVIRT_POLL_MS		200

static bool attr_ll(xmlNode *n, const char *name, long long *v)
{
	xmlChar *s = xmlGetProp(n, (const xmlChar *)name);
	char *end;
	bool ok;

	if (!s)
		return false;
	errno = 0;
	*v = strtoll((const char *)s, &end, 10);
	ok = *s && !*end && !errno;
	xmlFree(s);
	return ok;
}

static xmlNode *child(xmlNode *n, const char *name)
{
	for (xmlNode *c = n ? n->children : NULL; c; c = c->next)
		if (c->type == XML_ELEMENT_NODE &&
		    !strcmp((const char *)c->name, name))
			return c;
	return NULL;
}

/* <vcpus><vcpu id= pid=/>...: 1 taken, 0 not listed yet, -1 invalid */
static int take_listed_vcpus(struct bridge *b, xmlNode *vcpus,
			     const char *from)
{
	unsigned int n = 0;
	long long id, tid;

	for (xmlNode *c = vcpus ? vcpus->children : NULL; c; c = c->next) {
		if (c->type != XML_ELEMENT_NODE ||
		    strcmp((const char *)c->name, "vcpu"))
			continue;
		if (!attr_ll(c, "pid", &tid))
			continue;	/* an offline (hot-pluggable) vCPU */
		if (!attr_ll(c, "id", &id))
			return bridge_err("%s: a <vcpu> without a numeric id", from);
		if (take_vcpu(b, from, id, tid))
			return -1;
		n++;
	}
	if (!n)
		return 0;
	return check_vcpus(b, from, n) ? -1 : 1;
}

/*
 * One look at the status file: 1 when it lists the vCPUs of the QEMU that
 * connected, 0 when not (yet: libvirt has not written it, or it is an
 * older run's), -1 when it is wrong.
 */
static int read_status(struct bridge *b, const char *path)
{
	xmlDoc *doc = xmlReadFile(path, NULL, XML_PARSE_NONET |
				  XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	xmlNode *root = doc ? xmlDocGetRootElement(doc) : NULL;
	long long pid;
	int ret = 0;

	if (root && !strcmp((const char *)root->name, "domstatus") &&
	    attr_ll(root, "pid", &pid) && pid == b->qemu_pid)
		ret = take_listed_vcpus(b, child(root, "vcpus"), path);
	xmlFreeDoc(doc);
	return ret;
}

int libvirt_query_vcpus(struct bridge *b)
{
	int64_t deadline = now_ms() + LIBVIRT_WAIT_MS;
	char path[PATH_MAX];
	int r;

	if (snprintf(path, sizeof(path), "%s/%s.xml", b->opt.libvirt_dir,
		     b->opt.libvirt) >= (int)sizeof(path))
		return bridge_err("--libvirt name '%s' is too long", b->opt.libvirt);
	while ((r = read_status(b, path)) == 0) {
		if (now_ms() >= deadline)
			return bridge_err("%s did not list the vCPU threads of QEMU pid %d within %d s; is --libvirt %s the domain whose <shmem> uses %s?",
					  path, b->qemu_pid, LIBVIRT_WAIT_MS / 1000,
					  b->opt.libvirt, b->opt.socket_path);
		r = wait_readable(b, b->client_fd, LIBVIRT_POLL_MS);
		if (r < 0)
			return -1;
		if (r > 0)	/* QEMU never writes: this is its exit */
			return bridge_err("QEMU pid %d exited before libvirt listed its vCPU threads",
					  b->qemu_pid);
	}
	return r < 0 ? -1 : 0;
}
