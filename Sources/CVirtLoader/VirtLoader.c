// libvirt, loaded on first use. Linked directly, libvirt.so.0 and what it pulls in (GLib,
// GnuTLS, libxml2, libssh, libcurl, ...) cost every tetherd several MB of RSS from its start,
// whether or not it ever defines a secret (issue #17). Here each function TetherLibvirt calls is
// defined with libvirt's own prototype (the headers check it) and forwards to the real one,
// found with dlsym in libvirt.so.0 the first time any of them is called.
// A function TetherLibvirt starts to call must be added here: until it is, linking fails.
#include <dlfcn.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

static void *library;
static char failure[512];
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void load(void) {
    // RTLD_LOCAL: nothing else in the process binds to libvirt's symbols by accident.
    library = dlopen("libvirt.so.0", RTLD_NOW | RTLD_LOCAL);
    if (!library) {
        const char *reason = dlerror();
        snprintf(failure, sizeof failure, "cannot load libvirt.so.0: %s", reason ? reason : "unknown error");
    }
}

// The real function, or NULL when libvirt.so.0 cannot be loaded: then each function fails as
// libvirt's do (NULL or -1), and virGetLastErrorMessage says why.
static void *resolve(const char *name) {
    pthread_once(&once, load);
    return library ? dlsym(library, name) : NULL;
}

// Hidden: the executable does not export these, so libvirt's own calls to its API bind to
// itself, never back to these.
#define FORWARD(name, failed, ...)                                                           \
    __asm__(".hidden " #name);                                                               \
    static __typeof__(&name) real;                                                           \
    __typeof__(&name) function = __atomic_load_n(&real, __ATOMIC_ACQUIRE);                   \
    if (!function) {                                                                         \
        function = (__typeof__(&name))resolve(#name);                                        \
        if (!function) return failed;                                                        \
        __atomic_store_n(&real, function, __ATOMIC_RELEASE);                                 \
    }                                                                                        \
    return function(__VA_ARGS__)

virConnectPtr virConnectOpen(const char *name) { FORWARD(virConnectOpen, NULL, name); }
int virConnectClose(virConnectPtr conn) { FORWARD(virConnectClose, -1, conn); }
int virConnectListAllSecrets(virConnectPtr conn, virSecretPtr **secrets, unsigned int flags) {
    FORWARD(virConnectListAllSecrets, -1, conn, secrets, flags);
}
virSecretPtr virSecretDefineXML(virConnectPtr conn, const char *xml, unsigned int flags) {
    FORWARD(virSecretDefineXML, NULL, conn, xml, flags);
}
virSecretPtr virSecretLookupByUUIDString(virConnectPtr conn, const char *uuid) {
    FORWARD(virSecretLookupByUUIDString, NULL, conn, uuid);
}
int virSecretFree(virSecretPtr secret) { FORWARD(virSecretFree, -1, secret); }
int virSecretGetUUIDString(virSecretPtr secret, char *buf) { FORWARD(virSecretGetUUIDString, -1, secret, buf); }
int virSecretGetUsageType(virSecretPtr secret) { FORWARD(virSecretGetUsageType, -1, secret); }
const char *virSecretGetUsageID(virSecretPtr secret) { FORWARD(virSecretGetUsageID, NULL, secret); }
char *virSecretGetXMLDesc(virSecretPtr secret, unsigned int flags) { FORWARD(virSecretGetXMLDesc, NULL, secret, flags); }
int virSecretSetValue(virSecretPtr secret, const unsigned char *value, size_t value_size, unsigned int flags) {
    FORWARD(virSecretSetValue, -1, secret, value, value_size, flags);
}
unsigned char *virSecretGetValue(virSecretPtr secret, size_t *value_size, unsigned int flags) {
    FORWARD(virSecretGetValue, NULL, secret, value_size, flags);
}
int virSecretUndefine(virSecretPtr secret) { FORWARD(virSecretUndefine, -1, secret); }
// libvirt's own message, or why libvirt could not be loaded.
const char *virGetLastErrorMessage(void) { FORWARD(virGetLastErrorMessage, failure); }
