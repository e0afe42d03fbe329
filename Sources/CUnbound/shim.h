// libunbound's C API, for HeloDNS alone (the resolver); no other module imports it.
#include <unbound.h>
