/* Test helper for tests/seccomp.rs, built by the tests as glibc static, glibc dynamic, musl
 * dynamic and musl static programs: none of them can be reached by the preload when they make
 * the raw system call (`raw` below), and the static and musl ones never can.
 *
 *   probe [raw]                  one socket(AF_INET, SOCK_STREAM, 0): "protocol=N" or "errno=N"
 *   euid                         "euid=N": whether a setuid copy ran with its privileges
 *   listen PORT                  accept one connection on 127.0.0.1:PORT, copy it to stdout
 *   send PORT                    connect to 127.0.0.1:PORT, send stdin
 *   threads N M                  N threads x M sockets; "bad=B fds_before=X fds_after=Y", then
 *                                waits for EOF on stdin (so the test can look at the supervisor)
 *   forkexec CMD [ARG...]        fork, exec CMD in the child, exit with its status
 *   pid EXIT                     print getpid(), one socket, exit with EXIT
 *   nochildren                   one socket, then wait(): "wait=ECHILD" when there is no child
 *   dropuid                      drop to uid/gid 65534 (groups 100 and 65534), then probe:
 *                                "protocol=N owner=U", U the socket's owner (its inode's uid)
 *   dropmidrun                   the main thread probes; a thread probes, drops to 65534 alone
 *                                (raw setresuid) and probes; the main thread probes; another
 *                                thread probes, the process drops to 65534 (glibc: every
 *                                thread), the main thread and that one probe. One line of
 *                                protocol/owner uid (or -errno), in that order
 *   hold                         one socket, print "ready", then sleep until a signal ends it
 *   ttl PORT [bound|dup]         a socket (bound to 127.0.0.1:PORT first, non-blocking, with
 *                                SO_KEEPALIVE; or duplicated first), IP_TTL 7 set before it
 *                                starts, then: "set=R ttl=T protocol=P port=Q nonblock=N
 *                                keepalive=K listen=L" (R 0 or -errno; L the listen() result)
 *   ttlafter PORT                a connection to itself on 127.0.0.1:PORT, then IP_TTL set on
 *                                the connected socket to TCP's default (the sysctl), then to 7:
 *                                "default=R other=R protocol=P" (R 0 or -errno)
 * Protocols and errnos go to stdout; payloads to stdout only in `listen`. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <grp.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static int use_raw;

static int tcp_socket(void) {
	if (use_raw) return (int)syscall(SYS_socket, AF_INET, SOCK_STREAM, 0);
	return socket(AF_INET, SOCK_STREAM, 0);
}

static int protocol_of(int fd) {
	int protocol = -1;
	socklen_t len = sizeof protocol;
	if (getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &protocol, &len) != 0) return -1;
	return protocol;
}

static int probe(void) {
	int fd = tcp_socket();
	if (fd < 0) {
		printf("errno=%d\n", errno);
		return 0;
	}
	printf("protocol=%d\n", protocol_of(fd));
	close(fd);
	return 0;
}

static struct sockaddr_in loopback(const char *port) {
	struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons((unsigned short)atoi(port))};
	address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return address;
}

static int copy(int from, int to) {
	char buffer[65536];
	for (;;) {
		ssize_t got = read(from, buffer, sizeof buffer);
		if (got == 0) return 0;
		if (got < 0) return 1;
		for (ssize_t done = 0; done < got;) {
			ssize_t put = write(to, buffer + done, (size_t)(got - done));
			if (put <= 0) return 1;
			done += put;
		}
	}
}

static int listen_once(const char *port) {
	struct sockaddr_in address = loopback(port);
	int one = 1, fd = tcp_socket();
	if (fd < 0) return perror("socket"), 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(fd, (struct sockaddr *)&address, sizeof address) || listen(fd, 8)) return perror("bind/listen"), 1;
	fprintf(stderr, "listener protocol=%d\n", protocol_of(fd));
	int connection = accept(fd, NULL, NULL);
	if (connection < 0) return perror("accept"), 1;
	return copy(connection, 1);
}

static int send_once(const char *port) {
	struct sockaddr_in address = loopback(port);
	int fd = tcp_socket();
	if (fd < 0) return perror("socket"), 1;
	if (connect(fd, (struct sockaddr *)&address, sizeof address)) return perror("connect"), 1;
	fprintf(stderr, "sender protocol=%d\n", protocol_of(fd));
	int failed = copy(0, fd);
	shutdown(fd, SHUT_WR);
	close(fd);
	return failed;
}

/* One socket's protocol and owner (protocol * 100000 + uid), or -errno. */
static int protocol_now(void) {
	int fd = tcp_socket();
	if (fd < 0) return -errno;
	struct stat status;
	int protocol = protocol_of(fd);
	if (fstat(fd, &status)) status.st_uid = 99999;
	close(fd);
	return protocol * 100000 + (int)status.st_uid;
}

/* "PROTOCOL/OWNER", or the -errno. */
static void print_protocol(const char *name, int value, const char *end) {
	if (value < 0) printf("%s=%d%s", name, value, end);
	else printf("%s=%d/%d%s", name, value / 100000, value % 100000, end);
}

static int go_pipe[2], done_pipe[2];

/* Probes, then waits for the main thread's word and probes again. */
static void *probe_twice(void *results) {
	char word;
	((int *)results)[0] = protocol_now();
	if (write(done_pipe[1], "x", 1) != 1 || read(go_pipe[0], &word, 1) != 1) return NULL;
	((int *)results)[1] = protocol_now();
	return NULL;
}

/* Probes, drops its own credentials alone (the raw call: glibc's would change every thread's),
 * probes again. */
static void *drop_alone(void *results) {
	((int *)results)[0] = protocol_now();
	if (syscall(SYS_setresuid, 65534, 65534, 65534) != 0) ((int *)results)[1] = -1000;
	else ((int *)results)[1] = protocol_now();
	return NULL;
}

static int drop_mid_run(void) {
	int alone[2] = {0, 0}, thread_results[2] = {0, 0};
	char word;
	pthread_t thread;
	if (pipe(go_pipe) || pipe(done_pipe)) return perror("pipe"), 1;
	int before = protocol_now();
	if (pthread_create(&thread, NULL, drop_alone, alone)) return 1;
	pthread_join(thread, NULL);
	int main_after_alone = protocol_now();
	if (pthread_create(&thread, NULL, probe_twice, thread_results)) return 1;
	if (read(done_pipe[0], &word, 1) != 1) return 1;
	if (setgroups(0, NULL) || setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534))
		return perror("drop"), 1;
	int after = protocol_now();
	if (write(go_pipe[1], "x", 1) != 1) return 1;
	pthread_join(thread, NULL);
	print_protocol("before", before, " ");
	print_protocol("alone_before", alone[0], " ");
	print_protocol("alone_after", alone[1], " ");
	print_protocol("main", main_after_alone, " ");
	print_protocol("thread_before", thread_results[0], " ");
	print_protocol("after", after, " ");
	print_protocol("thread_after", thread_results[1], "\n");
	return 0;
}

static int expected_protocol, per_thread;

static void *sockets(void *unused) {
	(void)unused;
	long bad = 0;
	for (int i = 0; i < per_thread; i++) {
		int fd = socket(AF_INET6, SOCK_STREAM | (i % 2 ? SOCK_CLOEXEC : 0), 0);
		if (fd < 0 || protocol_of(fd) != expected_protocol) bad++;
		if (fd >= 0) close(fd);
	}
	return (void *)bad;
}

static int open_fds(void) {
	int count = 0;
	DIR *dir = opendir("/proc/self/fd");
	if (!dir) return -1;
	for (struct dirent *entry; (entry = readdir(dir));) count += entry->d_name[0] != '.';
	closedir(dir);
	return count - 1; /* the directory's own descriptor */
}

static int threads(int count, int each) {
	pthread_t ids[64];
	if (count > 64) count = 64;
	per_thread = each;
	int probe_fd = socket(AF_INET6, SOCK_STREAM, 0);
	expected_protocol = protocol_of(probe_fd);
	close(probe_fd);
	int before = open_fds();
	long bad = 0;
	for (int i = 0; i < count; i++) pthread_create(&ids[i], NULL, sockets, NULL);
	for (int i = 0; i < count; i++) {
		void *result;
		pthread_join(ids[i], &result);
		bad += (long)result;
	}
	printf("protocol=%d bad=%ld fds_before=%d fds_after=%d\n", expected_protocol, bad, before, open_fds());
	fflush(stdout);
	char byte;
	while (read(0, &byte, 1) > 0) {}
	return 0;
}

static int int_option(int fd, int level, int name) {
	int value = -1;
	socklen_t len = sizeof value;
	if (getsockopt(fd, level, name, &value, &len) != 0) return -errno;
	return value;
}

static int ttl_before_start(const char *port, const char *how) {
	int fd = tcp_socket();
	if (fd < 0) return perror("socket"), 1;
	int bound = how && !strcmp(how, "bound");
	if (how && !strcmp(how, "dup") && dup(fd) < 0) return perror("dup"), 1;
	if (bound) {
		int one = 1;
		struct sockaddr_in address = loopback(port);
		if (setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one) ||
		    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) ||
		    bind(fd, (struct sockaddr *)&address, sizeof address))
			return perror("prepare"), 1;
	}
	int ttl = 7;
	int set = setsockopt(fd, IPPROTO_IP, IP_TTL, &ttl, sizeof ttl) ? -errno : 0;
	struct sockaddr_in local;
	socklen_t len = sizeof local;
	getsockname(fd, (struct sockaddr *)&local, &len);
	int listened = bound ? (listen(fd, 1) ? -errno : 0) : 0;
	printf("set=%d ttl=%d protocol=%d port=%d nonblock=%d keepalive=%d listen=%d\n", set,
	       int_option(fd, IPPROTO_IP, IP_TTL), protocol_of(fd), ntohs(local.sin_port),
	       !!(fcntl(fd, F_GETFL) & O_NONBLOCK), int_option(fd, SOL_SOCKET, SO_KEEPALIVE), listened);
	return 0;
}

static int ttl_after_start(const char *port) {
	struct sockaddr_in address = loopback(port);
	int one = 1, listener = tcp_socket(), client = tcp_socket();
	if (listener < 0 || client < 0) return perror("socket"), 1;
	if (setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) ||
	    bind(listener, (struct sockaddr *)&address, sizeof address) || listen(listener, 1) ||
	    connect(client, (struct sockaddr *)&address, sizeof address))
		return perror("connect"), 1;
	int accepted = accept(listener, NULL, NULL);
	if (accepted < 0) return perror("accept"), 1;
	/* TCP's default (a fresh socket here may be MPTCP, which does not read it). */
	int ttl = 64, seven = 7;
	FILE *sysctl = fopen("/proc/sys/net/ipv4/ip_default_ttl", "r");
	if (!sysctl || fscanf(sysctl, "%d", &ttl) != 1) return perror("ip_default_ttl"), 1;
	fclose(sysctl);
	int as_default = setsockopt(client, IPPROTO_IP, IP_TTL, &ttl, sizeof ttl) ? -errno : 0;
	int other = setsockopt(client, IPPROTO_IP, IP_TTL, &seven, sizeof seven) ? -errno : 0;
	printf("default=%d other=%d protocol=%d\n", as_default, other, protocol_of(client));
	return 0;
}

int main(int argc, char **argv) {
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 2) return 2;
	const char *verb = argv[1];
	use_raw = argc > 2 && strcmp(argv[argc - 1], "raw") == 0;
	if (!strcmp(verb, "probe")) return probe();
	if (!strcmp(verb, "euid")) return printf("euid=%d\n", (int)geteuid()) < 0;
	if (!strcmp(verb, "ttl") && argc > 2) return ttl_before_start(argv[2], argc > 3 ? argv[3] : NULL);
	if (!strcmp(verb, "ttlafter") && argc > 2) return ttl_after_start(argv[2]);
	if (!strcmp(verb, "listen") && argc > 2) return listen_once(argv[2]);
	if (!strcmp(verb, "send") && argc > 2) return send_once(argv[2]);
	if (!strcmp(verb, "threads") && argc > 3) return threads(atoi(argv[2]), atoi(argv[3]));
	if (!strcmp(verb, "forkexec") && argc > 2) {
		pid_t child = fork();
		if (child == 0) {
			execvp(argv[2], argv + 2);
			_exit(127);
		}
		int status = 0;
		waitpid(child, &status, 0);
		return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	}
	if (!strcmp(verb, "pid") && argc > 2) {
		printf("pid=%d\n", (int)getpid());
		probe();
		return atoi(argv[2]);
	}
	if (!strcmp(verb, "nochildren")) {
		probe();
		int waited = wait(NULL);
		printf("wait=%s\n", waited < 0 && errno == ECHILD ? "ECHILD" : "child");
		return 0;
	}
	if (!strcmp(verb, "dropuid")) {
		gid_t groups[] = {100, 65534};
		if (setgroups(2, groups) || setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534))
			return perror("drop"), 1;
		int fd = tcp_socket();
		struct stat status;
		if (fd < 0) {
			printf("errno=%d\n", errno);
			return 0;
		}
		if (fstat(fd, &status)) return perror("fstat"), 1;
		printf("protocol=%d owner=%u\n", protocol_of(fd), (unsigned)status.st_uid);
		return 0;
	}
	if (!strcmp(verb, "dropmidrun")) return drop_mid_run();
	if (!strcmp(verb, "hold")) {
		probe();
		printf("ready\n");
		for (;;) pause();
	}
	return 2;
}
