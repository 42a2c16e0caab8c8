/* Text forms: tcpdump's flag letters and the names of rejection reasons. */
#include <string.h>

#include "wire/wire.h"

/* tcpdump print-tcp.c tcp_flag_values[]: letters in this order. */
static const struct {
    uint8_t flag;
    char letter;
} flag_letters[] = {
    {WIRE_FIN, 'F'}, {WIRE_SYN, 'S'}, {WIRE_RST, 'R'}, {WIRE_PSH, 'P'},
    {WIRE_ACK, '.'}, {WIRE_URG, 'U'}, {WIRE_ECE, 'E'}, {WIRE_CWR, 'W'},
};
#define FLAG_LETTER_COUNT (sizeof flag_letters / sizeof flag_letters[0])

char *wire_flags_str(uint8_t flags, char buf[WIRE_FLAGS_STRLEN])
{
    size_t n = 0;
    for (size_t i = 0; i < FLAG_LETTER_COUNT; i++)
        if (flags & flag_letters[i].flag)
            buf[n++] = flag_letters[i].letter;
    if (n == 0)
        memcpy(buf, "[none]", sizeof "[none]");
    else
        buf[n] = '\0';
    return buf;
}

bool wire_flags_parse(const char *text, uint8_t *flags)
{
    if (!text || !*text)
        return false;
    if (strcmp(text, "[none]") == 0 || strcmp(text, "none") == 0) {
        *flags = 0;
        return true;
    }
    uint8_t v = 0;
    for (const char *p = text; *p; p++) {
        size_t i = 0;
        while (i < FLAG_LETTER_COUNT && flag_letters[i].letter != *p)
            i++;
        if (i == FLAG_LETTER_COUNT || (v & flag_letters[i].flag))
            return false; /* unknown letter or the same flag twice */
        v |= flag_letters[i].flag;
    }
    *flags = v;
    return true;
}

static const char *const err_names[] = {
#define WIRE_ERR_NAME(name, text) #name,
    WIRE_ERRORS(WIRE_ERR_NAME)
#undef WIRE_ERR_NAME
};

static const char *const err_texts[] = {
#define WIRE_ERR_TEXT(name, text) text,
    WIRE_ERRORS(WIRE_ERR_TEXT)
#undef WIRE_ERR_TEXT
};

const char *wire_err_name(enum wire_err e)
{
    return (unsigned)e < WIRE_ERR_COUNT ? err_names[e] : "UNKNOWN";
}

const char *wire_err_text(enum wire_err e)
{
    return (unsigned)e < WIRE_ERR_COUNT ? err_texts[e] : "unknown error";
}
