/* Test helper: 8 threads x 2000 sockets under the library, built with ASan/UBSan and TSan by
 * tests/process_life.rs. */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

/* Each thread opens sockets; every other one sets TCP_USER_TIMEOUT, which MPTCP refuses, so the
 * library switches it to TCP behind the same descriptor. Returns a non-zero code on any surprise. */
static void *work(void *unused) {
	(void)unused;
	for (int i = 0; i < 2000; i++) {
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		if (fd < 0) return (void *)1;
		int expected = 262;
		if (i % 2) {
			int timeout = 1000;
			if (setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &timeout, sizeof timeout) != 0) return (void *)2;
			expected = IPPROTO_TCP;
		}
		int protocol = 0;
		socklen_t len = sizeof protocol;
		getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &protocol, &len);
		close(fd);
		if (protocol != expected) return (void *)3;
	}
	return NULL;
}

int main(void) {
	pthread_t threads[8];
	for (int i = 0; i < 8; i++) pthread_create(&threads[i], NULL, work, NULL);
	int failures = 0;
	for (int i = 0; i < 8; i++) {
		void *result;
		pthread_join(threads[i], &result);
		failures += result != NULL;
	}
	printf("failures=%d\n", failures);
	return failures != 0;
}
