/* Hierarchical timing wheel: see timer_wheel.h for the design. */
#include "tcp/timer_wheel.h"

/* ---- Intrusive circular lists with a sentinel head ---- */

static inline void list_init(struct timer_node *head)
{
    head->next = head;
    head->prev = head;
    head->expires = 0;
}

static inline bool list_empty(const struct timer_node *head)
{
    return head->next == head;
}

static inline void list_insert_after(struct timer_node *pos, struct timer_node *n)
{
    n->prev = pos;
    n->next = pos->next;
    pos->next->prev = n;
    pos->next = n;
}

static inline void list_append(struct timer_node *head, struct timer_node *n)
{
    list_insert_after(head->prev, n);
}

/* Leaves `n` zeroed links: "not armed". */
static inline void list_unlink(struct timer_node *n)
{
    n->prev->next = n->next;
    n->next->prev = n->prev;
    n->next = NULL;
    n->prev = NULL;
}

/* ---- Where a node lives ---- */

/* Level of a node that expires after `cur`: the highest 6-bit digit in which
 * the two times differ. Requires expires != cur. */
static inline unsigned level_of(tcp_time_t expires, tcp_time_t cur)
{
    unsigned top_bit = 63u - (unsigned)__builtin_clzll(expires ^ cur);
    return top_bit / TIMER_WHEEL_SLOT_BITS;
}

static inline unsigned slot_of(tcp_time_t expires, unsigned level)
{
    return (unsigned)(expires >> (level * TIMER_WHEEL_SLOT_BITS)) & (TIMER_WHEEL_SLOTS - 1);
}

/* First microsecond covered by slot `slot` of level `level`, given the
 * cursor: cur's digits above the level, the slot's digit, zeros below. */
static inline tcp_time_t slot_start(tcp_time_t cur, unsigned level, unsigned slot)
{
    unsigned shift = level * TIMER_WHEEL_SLOT_BITS;
    unsigned above = shift + TIMER_WHEEL_SLOT_BITS;
    tcp_time_t upper = above >= 64 ? 0 : (cur >> above) << above;
    return upper | ((tcp_time_t)slot << shift);
}

static inline void earliest_slot(const struct timer_wheel *w, unsigned *level, unsigned *slot)
{
    *level = (unsigned)__builtin_ctz(w->level_map);
    *slot = (unsigned)__builtin_ctzll(w->slot_map[*level]);
}

/* Files a node with expires > cur into its level and slot. */
static inline void file_node(struct timer_wheel *w, struct timer_node *n, unsigned level, unsigned slot)
{
    list_append(&w->slots[level][slot], n);
    w->slot_map[level] |= UINT64_C(1) << slot;
    w->level_map |= 1u << level;
}

/* Keeps the due list sorted by expires. Arms "at now" (the usual case) and
 * cascaded nodes append in O(1); only an arm earlier than something already
 * due walks back. */
static void due_insert(struct timer_wheel *w, struct timer_node *n)
{
    struct timer_node *p = w->due.prev;
    if (p == &w->due || p->expires <= n->expires) {
        list_append(&w->due, n);
        return;
    }
    if (w->due.next->expires > n->expires) {
        list_insert_after(&w->due, n);
        return;
    }
    while (p->expires > n->expires)
        p = p->prev;
    list_insert_after(p, n);
}

/* Exact minimum of one slot and how many nodes share it. A level-0 slot is a
 * single microsecond, so every node in it has the same expires. */
static void slot_minimum(const struct timer_wheel *w, unsigned level, unsigned slot, tcp_time_t *min,
                         size_t *count)
{
    const struct timer_node *head = &w->slots[level][slot];
    tcp_time_t m = head->next->expires;
    size_t c = 0;
    for (const struct timer_node *n = head->next; n != head; n = n->next) {
        if (n->expires < m) {
            m = n->expires;
            c = 1;
        } else if (n->expires == m) {
            c++;
        }
    }
    *min = m;
    *count = c;
}

/* ---- API ---- */

void timer_wheel_init(struct timer_wheel *w, tcp_time_t now)
{
    w->cur = now;
    w->count = 0;
    w->level_map = 0;
    w->level_min = TCP_TIME_NEVER;
    w->level_min_count = 0;
    list_init(&w->due);
    for (unsigned l = 0; l < TIMER_WHEEL_LEVELS; l++) {
        w->slot_map[l] = 0;
        for (unsigned s = 0; s < TIMER_WHEEL_SLOTS; s++)
            list_init(&w->slots[l][s]);
    }
}

void timer_cancel(struct timer_wheel *w, struct timer_node *n)
{
    if (!timer_armed(n))
        return;
    w->count--;
    tcp_time_t e = n->expires;
    if (e <= w->cur) { /* on the due list */
        list_unlink(n);
        return;
    }
    /* The cursor only moves in ways that keep every node in the levels at
     * level_of(expires, cur) (see timer_expire_next), so we can find the
     * slot again without storing it. */
    unsigned level = level_of(e, w->cur);
    unsigned slot = slot_of(e, level);
    list_unlink(n);
    if (list_empty(&w->slots[level][slot])) {
        w->slot_map[level] &= ~(UINT64_C(1) << slot);
        if (w->slot_map[level] == 0)
            w->level_map &= ~(1u << level);
    }
    if (w->level_min_count > 0 && e == w->level_min)
        w->level_min_count--;
}

void timer_arm(struct timer_wheel *w, struct timer_node *n, tcp_time_t expires)
{
    timer_cancel(w, n);
    n->expires = expires;
    w->count++;
    if (expires <= w->cur) {
        due_insert(w, n);
        return;
    }
    unsigned level = level_of(expires, w->cur);
    unsigned slot = slot_of(expires, level);
    /* Keep the cached minimum of the levels: a node filed before the
     * earliest occupied slot is the new unique minimum. */
    bool before_all = w->level_map == 0;
    if (!before_all) {
        unsigned l0, s0;
        earliest_slot(w, &l0, &s0);
        before_all = level < l0 || (level == l0 && slot < s0);
    }
    if (before_all) {
        w->level_min = expires;
        w->level_min_count = 1;
    } else if (w->level_min_count > 0) {
        if (expires < w->level_min) {
            w->level_min = expires;
            w->level_min_count = 1;
        } else if (expires == w->level_min) {
            w->level_min_count++;
        }
    }
    file_node(w, n, level, slot);
}

/* Moves the cursor to `start`, the first microsecond of the earliest slot,
 * and re-files that slot's nodes against it: nodes due exactly at `start`
 * go to the (empty) due list, the rest to lower levels. Every other node
 * keeps its level and slot: they all differ from the old cursor at a digit
 * at or above `level`, and `start` agrees with the old cursor there. */
static void cascade(struct timer_wheel *w, unsigned level, unsigned slot, tcp_time_t start)
{
    struct timer_node *head = &w->slots[level][slot];
    struct timer_node *first = head->next, *last = head->prev;
    list_init(head);
    w->slot_map[level] &= ~(UINT64_C(1) << slot);
    if (w->slot_map[level] == 0)
        w->level_map &= ~(1u << level);
    w->cur = start;

    if (level == 0) { /* one microsecond: splice the whole slot */
        first->prev = &w->due;
        last->next = &w->due;
        w->due.next = first;
        w->due.prev = last;
        w->level_min_count = 0; /* those were the minimum */
        return;
    }
    bool moved_to_due = false;
    for (struct timer_node *n = first, *next; n != head; n = next) {
        next = n->next;
        if (n->expires == start) {
            list_append(&w->due, n);
            moved_to_due = true;
        } else {
            unsigned l = level_of(n->expires, start);
            file_node(w, n, l, slot_of(n->expires, l));
        }
    }
    if (moved_to_due) /* they were all the nodes at the minimum */
        w->level_min_count = 0;
}

struct timer_node *timer_expire_next(struct timer_wheel *w, tcp_time_t now)
{
    for (;;) {
        if (!list_empty(&w->due)) {
            struct timer_node *n = w->due.next;
            if (n->expires > now)
                return NULL;
            list_unlink(n);
            w->count--;
            return n;
        }
        if (w->level_map == 0) {
            if (now > w->cur)
                w->cur = now;
            return NULL;
        }
        unsigned level, slot;
        earliest_slot(w, &level, &slot);
        tcp_time_t start = slot_start(w->cur, level, slot);
        if (start > now) {
            /* Nothing due. Moving the cursor up to `now` keeps every node
             * where it is: cur <= now < start, so `now` shares cur's digits
             * above `level` and its digit at `level` is below `slot`. */
            if (now > w->cur)
                w->cur = now;
            if (w->level_min_count == 0)
                slot_minimum(w, level, slot, &w->level_min, &w->level_min_count);
            return NULL;
        }
        cascade(w, level, slot, start);
    }
}

tcp_time_t timer_next_deadline(const struct timer_wheel *w)
{
    if (!list_empty(&w->due))
        return w->due.next->expires;
    if (w->level_map == 0)
        return TCP_TIME_NEVER;
    if (w->level_min_count > 0)
        return w->level_min;
    unsigned level, slot;
    earliest_slot(w, &level, &slot);
    if (level == 0)
        return w->slots[0][slot].next->expires;
    tcp_time_t min;
    size_t count;
    slot_minimum(w, level, slot, &min, &count);
    return min;
}
