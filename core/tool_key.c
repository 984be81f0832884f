/*
 * tool_key: `tasker key new NAME` makes an Ed25519 key pair in the current
 * directory (NAME.key, secret, mode 0600; NAME.pub, one line
 * "ed25519:<base64>"), and `tasker key pub FILE` prints the public key of a
 * secret key file. No network. See docs/security.md.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sig.h"
#include "tools.h"

static const char key_help[] =
    "Usage: tasker key new NAME\n"
    "       tasker key pub FILE.key\n"
    "\n"
    "new: makes an Ed25519 key pair in the current directory: NAME.key (the\n"
    "secret, mode 0600) and NAME.pub (one line, ed25519:BASE64, for the policy\n"
    "file's agents.NAME.key). Refuses to replace either file. NAME is 1 to 64\n"
    "letters, digits, '.', '_' or '-'.\n"
    "pub: prints the public key line of a secret key file.\n"
    "\n"
    "  -h, --help   show this help\n"
    "\n"
    "Exit status: 0 done, 1 failed (a file exists, cannot be written or read),\n"
    "2 bad usage.\n";

int tool_key(struct config *cfg, int argc, char **argv)
{
	static const struct option own[] = {{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
	struct option *opts = config_options(own);
	int c;
	while ((c = tools_getopt(cfg, argc, argv, "+h", opts, "key")) != -1) {
		free(opts);
		if (c == 'h') {
			fputs(key_help, stdout);
			return EXIT_OK;
		}
		return EXIT_USAGE;
	}
	free(opts);
	if (optind + 2 != argc ||
	    (strcmp(argv[optind], "new") != 0 && strcmp(argv[optind], "pub") != 0))
		return tools_usage_error("key", "expected: key new NAME, or key pub FILE.key");
	if (sig_init() < 0) {
		fprintf(stderr, "tasker key: libsodium could not start\n");
		return EXIT_FAIL;
	}
	const char *arg = argv[optind + 1];
	if (strcmp(argv[optind], "new") == 0 && !sig_key_name_ok(arg))
		return tools_usage_error("key",
		                         "a key name is 1 to 64 letters, digits, '.', '_' or "
		                         "'-', starting with a letter or digit");
	char err[512], pub[SIG_PUBLIC_TEXT];
	struct sig_key key;
	if (strcmp(argv[optind], "pub") == 0) {
		if (sig_read_secret(arg, &key, err, sizeof(err)) < 0) {
			fprintf(stderr, "tasker key: %s\n", err);
			return EXIT_FAIL;
		}
		sig_public_text(key.pk, pub);
		sig_key_wipe(&key);
		printf("%s\n", pub);
		return EXIT_OK;
	}
	if (sig_key_new(&key) < 0) {
		fprintf(stderr, "tasker key: could not make a key\n");
		return EXIT_FAIL;
	}
	int rc = sig_write_key_files(".", arg, &key, err, sizeof(err));
	sig_public_text(key.pk, pub);
	sig_key_wipe(&key);
	if (rc < 0) {
		fprintf(stderr, "tasker key: %s\n", err);
		return EXIT_FAIL;
	}
	printf("wrote %s.key (secret, mode 0600) and %s.pub\n%s\n", arg, arg, pub);
	return EXIT_OK;
}
