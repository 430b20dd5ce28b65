// librados and librbd, loaded on first use. Linked directly, they and what they pull in
// (libceph-common, boost, ibverbs, ...) cost every tetherd ~12 MB of RSS from its start, Ceph or
// not (issue #17). Here each function TetherRBD calls is defined with librados'/librbd's own
// prototype (the headers check it) and forwards to the real one, found with dlsym in
// librbd.so.1 (which loads librados.so.2) the first time any of them is called.
// A function TetherRBD starts to call must be added here: until it is, linking fails.
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <rados/librados.h>
#include <rbd/librbd.h>

static void *library;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void load(void) {
    // RTLD_LOCAL: nothing else in the process binds to Ceph's symbols by accident.
    library = dlopen("librbd.so.1", RTLD_NOW | RTLD_LOCAL);
}

// The real function, or NULL when librbd.so.1 cannot be loaded (not installed): then each
// function fails as librados/librbd report errors, with -ELIBACC.
static void *resolve(const char *name) {
    pthread_once(&once, load);
    return library ? dlsym(library, name) : NULL;
}

// Hidden: the executable does not export these, so librados' and librbd's own calls to their
// API bind to themselves, never back to these.
#define FORWARD(name, failure, ...)                                                          \
    __asm__(".hidden " #name);                                                               \
    static __typeof__(&name) real;                                                           \
    __typeof__(&name) function = __atomic_load_n(&real, __ATOMIC_ACQUIRE);                   \
    if (!function) {                                                                         \
        function = (__typeof__(&name))resolve(#name);                                        \
        if (!function) return failure;                                                       \
        __atomic_store_n(&real, function, __ATOMIC_RELEASE);                                 \
    }                                                                                        \
    return function(__VA_ARGS__)

// Functions that free or close what a successful call returned: the library is loaded then.
#define FORWARD_VOID(name, ...)                                                              \
    __asm__(".hidden " #name);                                                               \
    __typeof__(&name) function = (__typeof__(&name))resolve(#name);                          \
    if (function) function(__VA_ARGS__)

int rados_create(rados_t *cluster, const char *const id) { FORWARD(rados_create, -ELIBACC, cluster, id); }
int rados_conf_set(rados_t cluster, const char *option, const char *value) {
    FORWARD(rados_conf_set, -ELIBACC, cluster, option, value);
}
int rados_connect(rados_t cluster) { FORWARD(rados_connect, -ELIBACC, cluster); }
void rados_shutdown(rados_t cluster) { FORWARD_VOID(rados_shutdown, cluster); }
void rados_buffer_free(char *buf) { FORWARD_VOID(rados_buffer_free, buf); }
int rados_mon_command(
    rados_t cluster, const char **cmd, size_t cmdlen, const char *inbuf, size_t inbuflen, char **outbuf,
    size_t *outbuflen, char **outs, size_t *outslen) {
    FORWARD(rados_mon_command, -ELIBACC, cluster, cmd, cmdlen, inbuf, inbuflen, outbuf, outbuflen, outs, outslen);
}
int rados_ioctx_create(rados_t cluster, const char *pool_name, rados_ioctx_t *ioctx) {
    FORWARD(rados_ioctx_create, -ELIBACC, cluster, pool_name, ioctx);
}
void rados_ioctx_destroy(rados_ioctx_t io) { FORWARD_VOID(rados_ioctx_destroy, io); }
int rados_getaddrs(rados_t cluster, char **addrs) { FORWARD(rados_getaddrs, -ELIBACC, cluster, addrs); }
uint64_t rados_get_instance_id(rados_t cluster) { FORWARD(rados_get_instance_id, 0, cluster); }
int rados_cluster_fsid(rados_t cluster, char *buf, size_t len) { FORWARD(rados_cluster_fsid, -ELIBACC, cluster, buf, len); }
int rados_blocklist_add(rados_t cluster, char *client_address, uint32_t expire_seconds) {
    FORWARD(rados_blocklist_add, -ELIBACC, cluster, client_address, expire_seconds);
}

int rbd_create(rados_ioctx_t io, const char *name, uint64_t size, int *order) {
    FORWARD(rbd_create, -ELIBACC, io, name, size, order);
}
int rbd_open(rados_ioctx_t io, const char *name, rbd_image_t *image, const char *snap_name) {
    FORWARD(rbd_open, -ELIBACC, io, name, image, snap_name);
}
int rbd_open_read_only(rados_ioctx_t io, const char *name, rbd_image_t *image, const char *snap_name) {
    FORWARD(rbd_open_read_only, -ELIBACC, io, name, image, snap_name);
}
int rbd_close(rbd_image_t image) { FORWARD(rbd_close, -ELIBACC, image); }
int rbd_get_size(rbd_image_t image, uint64_t *size) { FORWARD(rbd_get_size, -ELIBACC, image, size); }
int rbd_get_features(rbd_image_t image, uint64_t *features) { FORWARD(rbd_get_features, -ELIBACC, image, features); }
ssize_t rbd_write(rbd_image_t image, uint64_t ofs, size_t len, const char *buf) {
    FORWARD(rbd_write, -ELIBACC, image, ofs, len, buf);
}
int rbd_watchers_list(rbd_image_t image, rbd_image_watcher_t *watchers, size_t *max_watchers) {
    FORWARD(rbd_watchers_list, -ELIBACC, image, watchers, max_watchers);
}
void rbd_watchers_list_cleanup(rbd_image_watcher_t *watchers, size_t num_watchers) {
    FORWARD_VOID(rbd_watchers_list_cleanup, watchers, num_watchers);
}
int rbd_lock_acquire(rbd_image_t image, rbd_lock_mode_t lock_mode) { FORWARD(rbd_lock_acquire, -ELIBACC, image, lock_mode); }
int rbd_lock_release(rbd_image_t image) { FORWARD(rbd_lock_release, -ELIBACC, image); }
int rbd_lock_break(rbd_image_t image, rbd_lock_mode_t lock_mode, const char *lock_owner) {
    FORWARD(rbd_lock_break, -ELIBACC, image, lock_mode, lock_owner);
}
int rbd_lock_get_owners(rbd_image_t image, rbd_lock_mode_t *lock_mode, char **lock_owners, size_t *max_lock_owners) {
    FORWARD(rbd_lock_get_owners, -ELIBACC, image, lock_mode, lock_owners, max_lock_owners);
}
void rbd_lock_get_owners_cleanup(char **lock_owners, size_t lock_owner_count) {
    FORWARD_VOID(rbd_lock_get_owners_cleanup, lock_owners, lock_owner_count);
}
ssize_t rbd_list_lockers(
    rbd_image_t image, int *exclusive, char *tag, size_t *tag_len, char *clients, size_t *clients_len, char *cookies,
    size_t *cookies_len, char *addrs, size_t *addrs_len) {
    FORWARD(rbd_list_lockers, -ELIBACC, image, exclusive, tag, tag_len, clients, clients_len, cookies, cookies_len, addrs, addrs_len);
}
