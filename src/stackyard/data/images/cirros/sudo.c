/* sudo for the stackyard guest, as CirrOS's sudoers has it ("cirros ALL=(ALL) NOPASSWD:ALL"):
 * installed setuid root, it lets root and the members of group "sudo" run a command as root
 * (or as -u USER) without a password. Tempest runs `sudo ip ...`, `sudo /sbin/modprobe ...`,
 * `sudo mount ...`, `sudo sh -c ...` in the guest. The environment is reset like sudo's
 * env_reset (TERM kept); -n, -E, -H, -k and -S are accepted and change nothing; -i and -s run
 * the target user's shell (with the command, if any, as `sh -c`). Built in the image's build
 * stage with tcc against the glibc that is copied into the guest for dropbear. */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SUDO_GROUP "sudo"
#define SECURE_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

static int allowed(void)
{
    struct group *group;
    gid_t groups[256];
    int count, i;

    if (getuid() == 0)
        return 1;
    group = getgrnam(SUDO_GROUP);
    if (group == NULL)
        return 0;
    if (getgid() == group->gr_gid)
        return 1;
    count = getgroups(256, groups);
    for (i = 0; i < count; i++)
        if (groups[i] == group->gr_gid)
            return 1;
    return 0;
}

static void usage(void)
{
    fputs("usage: sudo [-nEHkS] [-i | -s] [-u user] [--] [command [arg ...]]\n", stderr);
    exit(1);
}

static char *joined(int argc, char **argv)
{
    size_t size = 1;
    char *text;
    int i;

    for (i = 0; i < argc; i++)
        size += strlen(argv[i]) + 1;
    text = calloc(size, 1);
    if (text == NULL) {
        perror("sudo");
        exit(1);
    }
    for (i = 0; i < argc; i++) {
        if (i)
            strcat(text, " ");
        strcat(text, argv[i]);
    }
    return text;
}

int main(int argc, char **argv)
{
    const char *target = "root";
    const char *term;
    char *shell, *login;
    struct passwd *pw;
    int shell_mode = 0; /* 1: -s, 2: -i */
    int i = 1;

    for (; i < argc && argv[i][0] == '-' && argv[i][1] != '\0'; i++) {
        const char *flag = argv[i] + 1;
        if (strcmp(argv[i], "--") == 0) {
            i++;
            break;
        }
        for (; *flag; flag++) {
            switch (*flag) {
            case 'n': case 'E': case 'H': case 'k': case 'S':
                break;
            case 's':
                shell_mode = shell_mode ? shell_mode : 1;
                break;
            case 'i':
                shell_mode = 2;
                break;
            case 'u': /* -u USER or -uUSER: the rest of the argument is the user */
                if (flag[1] == '\0' && ++i >= argc)
                    usage();
                target = flag[1] != '\0' ? flag + 1 : argv[i];
                goto next;
            default:
                usage();
            }
        }
    next:;
    }
    if (!allowed()) {
        pw = getpwuid(getuid());
        fprintf(stderr, "sudo: %s is not in the %s group\n", pw ? pw->pw_name : "you",
                SUDO_GROUP);
        return 1;
    }
    pw = getpwnam(target);
    if (pw == NULL) {
        fprintf(stderr, "sudo: unknown user %s\n", target);
        return 1;
    }
    if (initgroups(pw->pw_name, pw->pw_gid) != 0 || setgid(pw->pw_gid) != 0
        || setuid(pw->pw_uid) != 0) {
        perror("sudo");
        return 1;
    }
    term = getenv("TERM");
    term = term ? strdup(term) : NULL;
    clearenv();
    if (term)
        setenv("TERM", term, 1);
    setenv("PATH", SECURE_PATH, 1);
    setenv("HOME", pw->pw_dir, 1);
    setenv("USER", pw->pw_name, 1);
    setenv("LOGNAME", pw->pw_name, 1);
    shell = pw->pw_shell && pw->pw_shell[0] ? pw->pw_shell : "/bin/sh";
    setenv("SHELL", shell, 1);

    if (shell_mode) {
        if (shell_mode == 2 && chdir(pw->pw_dir) != 0)
            (void)chdir("/");
        login = shell_mode == 2 ? "-sh" : "sh";
        if (i < argc)
            execl(shell, login, "-c", joined(argc - i, argv + i), (char *)NULL);
        else
            execl(shell, login, (char *)NULL);
        fprintf(stderr, "sudo: %s: %s\n", shell, strerror(errno));
        return 127;
    }
    if (i >= argc)
        usage();
    execvp(argv[i], argv + i);
    fprintf(stderr, "sudo: %s: %s\n", argv[i], strerror(errno));
    return errno == ENOENT ? 127 : 126;
}
