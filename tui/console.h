/*
 * console: the ncurses operator console (`tasker` with no command).
 */
#ifndef TASKER_CONSOLE_H
#define TASKER_CONSOLE_H

#include <getopt.h>

#include "config.h"

/* The console's own options (shared ones are added by config_options). */
extern const struct option console_options[];

/* Runs the console until the user quits; returns an exit code. */
int console_main(struct config *cfg, int argc, char **argv);

#endif
