// libpq from the system (Debian: libpq-dev puts it under /usr/include/postgresql/).
#include <postgresql/libpq-fe.h>
