/* A malloc-counting LD_PRELOAD shim: counts malloc/realloc/posix_memalign calls in
 * `larder_malloc_count`, which the hash allocation tests read through dlsym. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stddef.h>
long larder_malloc_count = 0;
static void *(*real_malloc)(size_t) = 0;
static void *(*real_calloc)(size_t,size_t) = 0;
static void *(*real_realloc)(void*,size_t) = 0;
static int (*real_memalign)(void**,size_t,size_t) = 0;
void *malloc(size_t n){ if(!real_malloc) real_malloc=dlsym(RTLD_NEXT,"malloc"); __atomic_add_fetch(&larder_malloc_count,1,__ATOMIC_RELAXED); return real_malloc(n);}
void *realloc(void*p,size_t n){ if(!real_realloc) real_realloc=dlsym(RTLD_NEXT,"realloc"); __atomic_add_fetch(&larder_malloc_count,1,__ATOMIC_RELAXED); return real_realloc(p,n);}
int posix_memalign(void**p,size_t a,size_t n){ if(!real_memalign) real_memalign=dlsym(RTLD_NEXT,"posix_memalign"); __atomic_add_fetch(&larder_malloc_count,1,__ATOMIC_RELAXED); return real_memalign(p,a,n);}
