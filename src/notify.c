/* notify - placeholder until the systemd notification module lands. */
#include "notify.h"

void notify_ready(const char *status) { (void)status; }
void notify_reloading(void) {}
void notify_stopping(void) {}
void notify_status(const char *fmt, ...) { (void)fmt; }
