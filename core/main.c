/*
 * main: the one binary. `tasker` alone opens the console; `tasker COMMAND`
 * runs one of the tools in tools.c. Shared options may come before or after
 * the command name.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "console.h"
#include "tools.h"

static void print_help(void)
{
	printf("Usage: tasker [OPTIONS] [COMMAND [ARGS...]]\n"
	       "\n"
	       "tasker controls long-running tasks through Redis and PM2: a console for\n"
	       "operators, a headless executor, and small tools for scripts.\n"
	       "\n"
	       "Without a command, tasker opens the console (see tasker(1) and --local).\n"
	       "\n"
	       "Commands:\n");
	for (const struct tool *t = tools_table; t->name != NULL; t++)
		printf("  %-7s %s\n", t->name, t->summary);
	printf("\n"
	       "Console options:\n"
	       "  --local                run an executor in the console too, unless another\n"
	       "                         executor listens on the channel; with neither\n"
	       "                         REDIS_URL nor --redis given and no answer at the\n"
	       "                         default address, start a private redis-server\n"
	       "                         (the tools given no address find it by themselves)\n"
	       "  --theme NAME           colour theme (TASKER_THEME; default, light, mono,\n"
	       "                         high-contrast); NO_COLOR turns colour off\n"
	       "  --interval SECONDS     task table refresh (default 1)\n"
	       "  --no-mouse             leave the mouse to the terminal (TASKER_NO_MOUSE=1)\n"
	       "  --pm2-home DIR         the PM2 daemon to show (PM2_HOME; default ~/.pm2)\n"
	       "                         Press ? in the console for its keys.\n"
	       "\n"
	       "%s"
	       "\n"
	       "  -h, --help             show this help; tasker COMMAND --help for a command\n"
	       "  -V, --version          show the version\n"
	       "\n"
	       "Exit status: 0 success, 1 failure, 2 usage error, 3 timeout.\n",
	       config_help);
}

int main(int argc, char **argv)
{
	struct config cfg;
	char err[300];
	/* A bad variable is reported when a command starts (config_finish), so
	 * that --help and --version work whatever the environment holds. */
	config_init(&cfg, err, sizeof(err));

	/* Find the command: the first word that is not an option or an option's
	 * value. Shared options before it are parsed by the command itself. */
	int cmd = 1;
	while (cmd < argc && argv[cmd][0] == '-') {
		const char *a = argv[cmd];
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			print_help();
			config_free(&cfg);
			return EXIT_OK;
		}
		if (strcmp(a, "-V") == 0 || strcmp(a, "--version") == 0) {
			printf("tasker %s\n", TASKER_VERSION);
			config_free(&cfg);
			return EXIT_OK;
		}
		if (strcmp(a, "--") == 0) {
			cmd++;
			break;
		}
		/* "--opt value" takes the next word too; "--opt=value" does not. */
		bool takes_value = strchr(a, '=') == NULL && config_takes_value(console_options, a);
		cmd += takes_value ? 2 : 1;
	}

	int rc;
	if (cmd >= argc) {
		rc = console_main(&cfg, argc, argv);
	} else {
		const struct tool *t = tools_find(argv[cmd]);
		if (t == NULL) {
			fprintf(stderr, "tasker: unknown command '%.60s'\nTry 'tasker --help'.\n",
				argv[cmd]);
			config_free(&cfg);
			return EXIT_USAGE;
		}
		/* The command sees its options and the shared ones given before it:
		 * move the command name to the front. */
		char **args = calloc((size_t)argc + 1, sizeof(char *));
		if (args == NULL)
			abort();
		int n = 0;
		args[n++] = argv[cmd];
		for (int i = 1; i < argc; i++)
			if (i != cmd)
				args[n++] = argv[i];
		optind = 1;
		rc = t->run(&cfg, n, args);
		free(args);
	}
	config_free(&cfg);
	return rc;
}
