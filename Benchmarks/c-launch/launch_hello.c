/*
 * launch_hello.c -- the smallest launcher that runs the example guests of
 * Examples/guests on /dev/kvm.  It does what `kvmplan launch` does for the
 * long-mode hello guest, ioctl for ioctl (API version, NR_MEMSLOTS check, VM,
 * memslot, vCPU, supported CPUID, registers, run), and serves as its
 * performance floor; the extra
 * options let it run every example guest (see usage()).
 *
 * Guest ABI (Examples/guests/README.md):
 *   - payload: flat binary at the load GPA (entered at the entry GPA) or ELF64
 *     (PT_LOAD segments at p_paddr, entry e_entry);
 *   - boot modes real / protected / long; long mode gets a GDT and identity
 *     page tables (2 MiB pages) in the boot area 0x1000-0x7fff of slot 0;
 *   - at entry RDI = vCPU index, RSI = vCPU count, RFLAGS = 0x2;
 *   - COM1 at 0x3f8 -> stdout, LSR (0x3fd) reads 0x60; port 0xf4 = exit
 *     status; HLT ends a vCPU and the VM exits 0 once all vCPUs halted;
 *     MMIO exits are reported on stderr and resumed (reads return zeros).
 * Exit status: the guest's, 0 after all vCPUs halted, 124 on timeout,
 * 125 on shutdown (triple fault) / internal error / failed entry,
 * 2 on usage errors, 1 on setup errors.
 */
#define _GNU_SOURCE
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MiB (1024ULL * 1024)
#define GiB (1024ULL * MiB)

/* Guest-visible ports. */
#define COM1 0x3f8
#define COM1_LSR (COM1 + 5)
#define EXIT_PORT 0xf4

/* Boot area of long mode (and the GDT of protected mode), all in slot 0. */
#define BOOT_GDT 0x1000  /* null, code 0x08, data 0x10 */
#define BOOT_PML4 0x2000
#define BOOT_PDPT 0x3000
#define BOOT_PD 0x4000   /* 4 page directories, 0x4000-0x7fff: maps 0-4 GiB */
#define BOOT_END 0x8000

/* Paging and control-register bits. */
#define CR0_PE (1u << 0)
#define CR0_ET (1u << 4)
#define CR0_PG (1u << 31)
#define CR4_PAE (1u << 5)
#define EFER_LME (1u << 8)
#define EFER_LMA (1u << 10)
#define PTE_P 1ULL
#define PTE_RW 2ULL
#define PTE_PS 0x80ULL

enum mode { MODE_REAL, MODE_PROTECTED, MODE_LONG };

struct slot {
	uint64_t gpa, size;
	uint8_t *hva;
	int readonly;
};

#define MAX_SLOTS 16
#define MAX_VCPUS 64

static struct slot slots[MAX_SLOTS];
static int nslots;
static int vcpu_mmap_size;
static int nvcpus = 1;
static int halted_vcpus; /* atomic */
static int timing;
static struct timespec t_start;

static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("launch_hello: ", stderr);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void usage(void)
{
	fputs("usage: launch_hello [-m real|protected|long] [-l LOAD] [-e ENTRY] [-s SIZE]\n"
	      "                    [-r GPA:SIZE]... [-R GPA:SIZE[:FILE]]... [-c NCPUS]\n"
	      "                    [-t SECONDS] [-T] PAYLOAD\n"
	      "  -m MODE        boot mode (default long)\n"
	      "  -l LOAD        flat payload load GPA (default 0x100000)\n"
	      "  -e ENTRY       entry GPA (default LOAD; ELF payloads use e_entry)\n"
	      "  -s SIZE        RAM slot at GPA 0 (default 0x200000)\n"
	      "  -r GPA:SIZE    extra RAM slot (all slots are identity mapped in long mode)\n"
	      "  -R GPA:SIZE[:FILE]  extra read-only slot, optionally filled from FILE\n"
	      "  -c NCPUS       number of vCPUs, one thread each (default 1)\n"
	      "  -t SECONDS     kill a runaway guest after SECONDS, exit 124 (default 10, 0 = never)\n"
	      "  -T             print the wall time from start to guest exit on stderr\n"
	      "GPAs and sizes accept C syntax (0x...).  Unbacked GPAs are MMIO.\n",
	      stderr);
	exit(2);
}

static uint64_t parse_num(const char *s, char **end)
{
	char *e;
	errno = 0;
	unsigned long long v = strtoull(s, &e, 0);
	if (errno || e == s)
		usage();
	if (end)
		*end = e;
	else if (*e)
		usage();
	return v;
}

static void finish(int status)
{
	if (timing) {
		struct timespec t;
		clock_gettime(CLOCK_MONOTONIC, &t);
		long long ns = (t.tv_sec - t_start.tv_sec) * 1000000000LL + (t.tv_nsec - t_start.tv_nsec);
		fprintf(stderr, "launch_hello: %lld us\n", ns / 1000);
	}
	_exit(status); /* ends every vCPU thread at once */
}

static void on_alarm(int sig)
{
	(void)sig;
	static const char msg[] = "launch_hello: timeout\n";
	if (write(2, msg, sizeof msg - 1) < 0) { /* nothing to do */ }
	_exit(124);
}

/* ---- memory ---------------------------------------------------------- */

static void add_slot(int vm, uint64_t gpa, uint64_t size, int readonly)
{
	if (nslots == MAX_SLOTS)
		die("too many slots");
	if (size == 0 || (gpa | size) & 0xfff)
		die("slot 0x%llx size 0x%llx: must be non-empty and 4 KiB aligned",
		    (unsigned long long)gpa, (unsigned long long)size);
	for (int i = 0; i < nslots; i++)
		if (gpa < slots[i].gpa + slots[i].size && slots[i].gpa < gpa + size)
			die("slot 0x%llx overlaps slot 0x%llx", (unsigned long long)gpa,
			    (unsigned long long)slots[i].gpa);
	void *hva = mmap(NULL, size, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (hva == MAP_FAILED)
		die("mmap 0x%llx bytes: %s", (unsigned long long)size, strerror(errno));
	struct kvm_userspace_memory_region r = {
		.slot = (uint32_t)nslots,
		.flags = readonly ? KVM_MEM_READONLY : 0,
		.guest_phys_addr = gpa,
		.memory_size = size,
		.userspace_addr = (uint64_t)(uintptr_t)hva,
	};
	if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &r) < 0)
		die("KVM_SET_USER_MEMORY_REGION slot %d gpa 0x%llx: %s", nslots,
		    (unsigned long long)gpa, strerror(errno));
	slots[nslots++] = (struct slot){ gpa, size, hva, readonly };
}

/* Host address of [gpa, gpa+len) if it lies inside one slot, else NULL. */
static uint8_t *gpa_to_hva(uint64_t gpa, uint64_t len)
{
	for (int i = 0; i < nslots; i++)
		if (gpa >= slots[i].gpa && len <= slots[i].size && gpa - slots[i].gpa <= slots[i].size - len)
			return slots[i].hva + (gpa - slots[i].gpa);
	return NULL;
}

static uint8_t *guest_range(uint64_t gpa, uint64_t len, const char *what)
{
	uint8_t *p = gpa_to_hva(gpa, len);
	if (!p)
		die("%s [0x%llx, 0x%llx) is not inside one memory slot", what,
		    (unsigned long long)gpa, (unsigned long long)(gpa + len));
	return p;
}

static void *read_file(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0)
		die("%s: %s", path, strerror(errno));
	uint8_t *buf = malloc(st.st_size ? st.st_size : 1);
	size_t done = 0;
	while (done < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + done, st.st_size - done);
		if (n <= 0)
			die("%s: short read", path);
		done += n;
	}
	close(fd);
	*len = done;
	return buf;
}

/* Loads the payload; returns the entry GPA.  Nothing may be loaded below
 * reserved_end (the boot area of long mode, the GDT page of protected mode). */
static uint64_t load_payload(const char *path, uint64_t load, uint64_t entry, uint64_t reserved_end)
{
	size_t len;
	uint8_t *img = read_file(path, &len);
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)img;
	if (len >= sizeof *eh && memcmp(eh->e_ident, ELFMAG, SELFMAG) == 0) {
		if (eh->e_ident[EI_CLASS] != ELFCLASS64 || eh->e_phentsize != sizeof(Elf64_Phdr) ||
		    eh->e_phoff > len || (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr) > len - eh->e_phoff)
			die("%s: unsupported ELF", path);
		const Elf64_Phdr *ph = (const Elf64_Phdr *)(img + eh->e_phoff);
		for (int i = 0; i < eh->e_phnum; i++) {
			if (ph[i].p_type != PT_LOAD || ph[i].p_memsz == 0)
				continue;
			if (ph[i].p_filesz > ph[i].p_memsz || ph[i].p_offset > len ||
			    ph[i].p_filesz > len - ph[i].p_offset)
				die("%s: bad PT_LOAD %d", path, i);
			if (ph[i].p_paddr < reserved_end)
				die("%s: PT_LOAD %d overlaps the boot area 0x0-0x%llx", path, i,
				    (unsigned long long)reserved_end - 1);
			uint8_t *dst = guest_range(ph[i].p_paddr, ph[i].p_memsz, "PT_LOAD");
			memcpy(dst, img + ph[i].p_offset, ph[i].p_filesz);
			memset(dst + ph[i].p_filesz, 0, ph[i].p_memsz - ph[i].p_filesz);
		}
		entry = eh->e_entry;
	} else {
		if (load < reserved_end)
			die("payload at 0x%llx overlaps the boot area 0x0-0x%llx", (unsigned long long)load,
			    (unsigned long long)reserved_end - 1);
		memcpy(guest_range(load, len, "payload"), img, len);
	}
	free(img);
	return entry;
}

/* GDT (both modes) and, for long mode, identity page tables over the RAM slots. */
static struct kvm_cpuid2 *supported_cpuid(int kvm);

/* Whether the host's supported CPUID offers 1 GiB pages (leaf 0x80000001, EDX bit 26). */
static int has_1g_pages(int kvm)
{
	struct kvm_cpuid2 *c = supported_cpuid(kvm);
	for (unsigned i = 0; i < c->nent; i++)
		if (c->entries[i].function == 0x80000001)
			return (c->entries[i].edx >> 26) & 1;
	return 0;
}

static void build_boot_area(enum mode mode, int kvm)
{
	uint64_t *gdt = (uint64_t *)guest_range(BOOT_GDT, 0x1000, "boot area (GDT)");
	gdt[0] = 0;
	if (mode == MODE_LONG) {
		gdt[1] = 0x00af9b000000ffffULL; /* code: P, DPL0, exec/read, accessed, L=1, G */
		gdt[2] = 0x00cf93000000ffffULL; /* data: P, DPL0, read/write, accessed, D/B, G */
	} else {
		gdt[1] = 0x00cf9b000000ffffULL; /* code: 32-bit flat 4 GiB */
		gdt[2] = 0x00cf93000000ffffULL; /* data: 32-bit flat 4 GiB */
	}
	if (mode != MODE_LONG)
		return;

	uint64_t *pml4 = (uint64_t *)guest_range(BOOT_PML4, 0x1000, "boot area (PML4)");
	uint64_t *pdpt = (uint64_t *)guest_range(BOOT_PDPT, 0x1000, "boot area (PDPT)");
	uint64_t *pd = (uint64_t *)guest_range(BOOT_PD, 0x4000, "boot area (PDs)");
	memset(pml4, 0, 0x1000);
	memset(pdpt, 0, 0x1000);
	memset(pd, 0, 0x4000);
	pml4[0] = BOOT_PDPT | PTE_P | PTE_RW;
	for (int i = 0; i < 4; i++)
		pdpt[i] = (BOOT_PD + 0x1000ULL * i) | PTE_P | PTE_RW;
	/* As kvmplan's BootState: every slot (RAM and read-only) is mapped with 2 MiB
	 * pages below 4 GiB, and with 1 GiB pages from 4 to 512 GiB when the CPU has
	 * them (otherwise that memory is left unmapped); MMIO holes are not mapped. */
	for (int s = 0; s < nslots; s++) {
		uint64_t first = slots[s].gpa & ~(2 * MiB - 1);
		uint64_t end = slots[s].gpa + slots[s].size;
		for (uint64_t a = first; a < end && a < 4 * GiB; a += 2 * MiB)
			pd[a >> 21] = a | PTE_P | PTE_RW | PTE_PS;
		if (end > 4 * GiB && has_1g_pages(kvm))
			for (uint64_t a = first < 4 * GiB ? 4 * GiB : first & ~(GiB - 1); a < end && a < 512 * GiB; a += GiB)
				pdpt[a >> 30] = a | PTE_P | PTE_RW | PTE_PS;
	}
}

/* ---- vCPUs ----------------------------------------------------------- */

struct vcpu {
	int index, fd;
	struct kvm_run *run;
	pthread_t thread;
};

static struct vcpu vcpus[MAX_VCPUS];

static void set_seg(struct kvm_segment *s, uint16_t sel, uint64_t base, uint32_t limit,
		    uint8_t type, int code64, int db, int g)
{
	*s = (struct kvm_segment){
		.base = base, .limit = limit, .selector = sel, .type = type,
		.present = 1, .dpl = 0, .db = db, .s = 1, .l = code64, .g = g,
	};
}

/* KVM_GET_SUPPORTED_CPUID once, then KVM_SET_CPUID2 on each vCPU: the guest sees the host's supported
 * CPUID, as kvmplan's plan sets it (its set-cpuid step). */
static struct kvm_cpuid2 *supported_cpuid(int kvm)
{
	static struct kvm_cpuid2 *cpuid;
	if (cpuid)
		return cpuid;
	for (int n = 256;; n *= 2) {
		cpuid = calloc(1, sizeof(*cpuid) + n * sizeof(struct kvm_cpuid_entry2));
		if (!cpuid)
			die("out of memory");
		cpuid->nent = n;
		if (ioctl(kvm, KVM_GET_SUPPORTED_CPUID, cpuid) == 0)
			return cpuid;
		if (errno != E2BIG || n >= 4096)
			die("KVM_GET_SUPPORTED_CPUID: %s", strerror(errno));
		free(cpuid);
	}
}

static void setup_vcpu(struct vcpu *v, int kvm, enum mode mode, uint64_t entry)
{
	if (ioctl(v->fd, KVM_SET_CPUID2, supported_cpuid(kvm)) < 0)
		die("KVM_SET_CPUID2: %s", strerror(errno));
	struct kvm_sregs sr;
	if (ioctl(v->fd, KVM_GET_SREGS, &sr) < 0)
		die("KVM_GET_SREGS: %s", strerror(errno));
	struct kvm_regs r = { .rflags = 0x2, .rdi = (uint64_t)v->index, .rsi = (uint64_t)nvcpus };

	switch (mode) {
	case MODE_REAL: {
		uint16_t sel = (entry >> 4) & 0xf000;
		set_seg(&sr.cs, sel, (uint64_t)sel << 4, 0xffff, 0xb, 0, 0, 0);
		set_seg(&sr.ds, 0, 0, 0xffff, 0x3, 0, 0, 0);
		sr.es = sr.fs = sr.gs = sr.ss = sr.ds;
		sr.cr0 &= ~(uint64_t)(CR0_PE | CR0_PG);
		r.rip = entry - ((uint64_t)sel << 4);
		break;
	}
	case MODE_PROTECTED:
	case MODE_LONG: {
		int lm = mode == MODE_LONG;
		set_seg(&sr.cs, 0x08, 0, 0xffffffff, 0xb, lm, !lm, 1);
		set_seg(&sr.ds, 0x10, 0, 0xffffffff, 0x3, 0, 1, 1);
		sr.es = sr.fs = sr.gs = sr.ss = sr.ds;
		sr.gdt.base = BOOT_GDT;
		sr.gdt.limit = 3 * 8 - 1;
		sr.cr0 = CR0_PE | CR0_ET;
		if (lm) {
			sr.cr0 |= CR0_PG;
			sr.cr3 = BOOT_PML4;
			sr.cr4 = CR4_PAE;
			sr.efer = EFER_LME | EFER_LMA;
		}
		r.rip = entry;
		break;
	}
	}
	if (ioctl(v->fd, KVM_SET_SREGS, &sr) < 0)
		die("KVM_SET_SREGS: %s", strerror(errno));
	if (ioctl(v->fd, KVM_SET_REGS, &r) < 0)
		die("KVM_SET_REGS: %s", strerror(errno));
}

static void dump_and_die(struct vcpu *v, const char *why)
{
	struct kvm_regs r;
	struct kvm_sregs s;
	fprintf(stderr, "launch_hello: vcpu %d: %s\n", v->index, why);
	if (ioctl(v->fd, KVM_GET_REGS, &r) == 0 && ioctl(v->fd, KVM_GET_SREGS, &s) == 0)
		fprintf(stderr,
			"  rip %016llx rsp %016llx rflags %08llx\n"
			"  rax %016llx rbx %016llx rcx %016llx rdx %016llx\n"
			"  rsi %016llx rdi %016llx\n"
			"  cs %04x cr0 %08llx cr3 %08llx cr4 %08llx efer %llx\n",
			r.rip, r.rsp, r.rflags, r.rax, r.rbx, r.rcx, r.rdx, r.rsi, r.rdi,
			s.cs.selector, s.cr0, s.cr3, s.cr4, s.efer);
	finish(125);
}

static void handle_io(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	uint8_t *data = (uint8_t *)run + run->io.data_offset;
	size_t n = (size_t)run->io.size * run->io.count;
	uint16_t port = run->io.port;

	if (run->io.direction == KVM_EXIT_IO_OUT) {
		if (port == COM1) {
			if (write(1, data, n) < 0) { /* stdout gone: keep running */ }
		} else if (port == EXIT_PORT) {
			finish(data[0]);
		} else if (port < COM1 || port > COM1 + 7) {
			fprintf(stderr, "launch_hello: out to port 0x%x ignored\n", port);
		}
	} else {
		/* COM1 LSR: THR empty + transmitter empty; every other port reads 0. */
		for (size_t i = 0; i < n; i++)
			data[i] = (port == COM1_LSR && run->io.size == 1) ? 0x60 : 0;
	}
}

static void handle_mmio(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	if (run->mmio.is_write) {
		char hex[2 * 8 + 1];
		for (uint32_t i = 0; i < run->mmio.len && i < 8; i++)
			sprintf(hex + 2 * i, "%02x", run->mmio.data[i]);
		fprintf(stderr, "mmio write 0x%llx %u bytes: %s\n", (unsigned long long)run->mmio.phys_addr,
			run->mmio.len, hex);
	} else {
		fprintf(stderr, "mmio read 0x%llx %u bytes\n", (unsigned long long)run->mmio.phys_addr,
			run->mmio.len);
		memset(run->mmio.data, 0, sizeof run->mmio.data);
	}
}

static void *vcpu_loop(void *arg)
{
	struct vcpu *v = arg;
	for (;;) {
		if (ioctl(v->fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			fprintf(stderr, "launch_hello: KVM_RUN: %s\n", strerror(errno));
			finish(125);
		}
		switch (v->run->exit_reason) {
		case KVM_EXIT_IO:
			handle_io(v);
			break;
		case KVM_EXIT_MMIO:
			handle_mmio(v);
			break;
		case KVM_EXIT_HLT:
			if (__atomic_add_fetch(&halted_vcpus, 1, __ATOMIC_SEQ_CST) == nvcpus)
				finish(0);
			return NULL;
		case KVM_EXIT_SHUTDOWN:
			dump_and_die(v, "shutdown (triple fault)");
			break;
		case KVM_EXIT_FAIL_ENTRY:
			fprintf(stderr, "launch_hello: fail entry, hardware reason 0x%llx\n",
				(unsigned long long)v->run->fail_entry.hardware_entry_failure_reason);
			dump_and_die(v, "failed entry");
			break;
		case KVM_EXIT_INTERNAL_ERROR:
			fprintf(stderr, "launch_hello: internal error, suberror %u\n",
				v->run->internal.suberror);
			dump_and_die(v, "internal error");
			break;
		default: {
			char why[64];
			snprintf(why, sizeof why, "unexpected exit reason %u", v->run->exit_reason);
			dump_and_die(v, why);
		}
		}
	}
}

/* ---- main ------------------------------------------------------------ */

struct extra { uint64_t gpa, size; int readonly; const char *file; };

int main(int argc, char **argv)
{
	enum mode mode = MODE_LONG;
	uint64_t load = 0x100000, entry = UINT64_MAX, ram = 2 * MiB;
	unsigned timeout = 10;
	struct extra extra[MAX_SLOTS];
	int nextra = 0, opt;

	clock_gettime(CLOCK_MONOTONIC, &t_start);
	while ((opt = getopt(argc, argv, "m:l:e:s:r:R:c:t:Th")) != -1) {
		switch (opt) {
		case 'm':
			if (!strcmp(optarg, "real")) mode = MODE_REAL;
			else if (!strcmp(optarg, "protected")) mode = MODE_PROTECTED;
			else if (!strcmp(optarg, "long")) mode = MODE_LONG;
			else usage();
			break;
		case 'l': load = parse_num(optarg, NULL); break;
		case 'e': entry = parse_num(optarg, NULL); break;
		case 's': ram = parse_num(optarg, NULL); break;
		case 'r':
		case 'R': {
			char *e;
			if (nextra == MAX_SLOTS - 1)
				usage();
			struct extra *x = &extra[nextra++];
			*x = (struct extra){ .readonly = opt == 'R' };
			x->gpa = parse_num(optarg, &e);
			if (*e != ':')
				usage();
			x->size = parse_num(e + 1, &e);
			if (*e == ':' && opt == 'R')
				x->file = e + 1;
			else if (*e)
				usage();
			break;
		}
		case 'c':
			nvcpus = (int)parse_num(optarg, NULL);
			if (nvcpus < 1 || nvcpus > MAX_VCPUS)
				usage();
			break;
		case 't': timeout = (unsigned)parse_num(optarg, NULL); break;
		case 'T': timing = 1; break;
		default: usage();
		}
	}
	if (optind != argc - 1)
		usage();
	if (entry == UINT64_MAX)
		entry = load;
	if (timeout) {
		signal(SIGALRM, on_alarm);
		alarm(timeout);
	}

	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0)
		die("/dev/kvm: %s", strerror(errno));
	if (ioctl(kvm, KVM_GET_API_VERSION, 0) != KVM_API_VERSION)
		die("unexpected KVM API version");
	if (ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_NR_MEMSLOTS) < 1) /* the plan's requirement check */
		die("KVM_CAP_NR_MEMSLOTS: no memory slots");
	int vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (vm < 0)
		die("KVM_CREATE_VM: %s", strerror(errno));

	add_slot(vm, 0, ram, 0);
	for (int i = 0; i < nextra; i++) {
		if (extra[i].readonly && ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_READONLY_MEM) <= 0)
			die("read-only memory slots are not supported");
		add_slot(vm, extra[i].gpa, extra[i].size, extra[i].readonly);
		if (extra[i].file) {
			size_t len;
			void *buf = read_file(extra[i].file, &len);
			if (len > extra[i].size)
				die("%s does not fit its slot", extra[i].file);
			memcpy(slots[nslots - 1].hva, buf, len);
			free(buf);
		}
	}

	entry = load_payload(argv[optind], load, entry,
			     mode == MODE_LONG ? BOOT_END : mode == MODE_PROTECTED ? BOOT_GDT + 0x1000 : 0);
	if (mode != MODE_REAL)
		build_boot_area(mode, kvm);
	else if (entry >= 1 * MiB)
		die("real-mode entry 0x%llx is not below 1 MiB", (unsigned long long)entry);

	vcpu_mmap_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (vcpu_mmap_size < (int)sizeof(struct kvm_run))
		die("KVM_GET_VCPU_MMAP_SIZE: %s", strerror(errno));
	for (int i = 0; i < nvcpus; i++) {
		struct vcpu *v = &vcpus[i];
		v->index = i;
		v->fd = ioctl(vm, KVM_CREATE_VCPU, i);
		if (v->fd < 0)
			die("KVM_CREATE_VCPU %d: %s", i, strerror(errno));
		v->run = mmap(NULL, vcpu_mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
		if (v->run == MAP_FAILED)
			die("mmap kvm_run: %s", strerror(errno));
		setup_vcpu(v, kvm, mode, entry);
	}

	if (nvcpus == 1) { /* the benchmark case: no threads */
		vcpu_loop(&vcpus[0]);
		finish(0); /* not reached: the only vCPU halting already finished */
	}
	for (int i = 0; i < nvcpus; i++)
		if (pthread_create(&vcpus[i].thread, NULL, vcpu_loop, &vcpus[i]))
			die("pthread_create failed");
	for (;;)
		pause(); /* a vCPU thread ends the process */
}
