/* Hierarchical timing wheel with exact microsecond expiry.
 *
 * The timers of a TCP stack (retransmission, delayed ACK, keepalive,
 * TIME-WAIT, FIN-WAIT-2, SYN-ACK retries) are almost always cancelled or
 * re-armed before they fire, and a stack holding 1,000,000 connections arms
 * millions of them per second. A hierarchical timing wheel (Varghese &
 * Lauck, "Hashed and Hierarchical Timing Wheels", SOSP 1987, scheme 7; the
 * classic Linux kernel/time/timer.c before 4.8, and William Ahern's timeout.c)
 * makes arm and cancel O(1): a timer is an intrusive node in a doubly linked
 * list, so arming is a list append and cancelling is a list unlink.
 *
 * Layout. Time is counted in whole microseconds (tcp_time_t). The wheel keeps
 * a cursor `cur` (never ahead of the largest `now` it was given) and
 * TIMER_WHEEL_LEVELS levels of 64 slots; level L sorts by bits [6L, 6L+6) of
 * the expiry time, so level 0 slots are 1 us wide, level 1 slots 64 us,
 * level 3 slots 262 ms, level 5 slots 17.9 min, and the 11 levels together
 * cover the whole 64-bit range: there is no overflow list and no horizon
 * (TCP_TIME_NEVER can be armed like any other time). Level 0 is one
 * microsecond, not the 1 ms tick of kernels, so that no slot ever mixes times
 * that must come out in order: exact order costs no sorting at expiry, and
 * the price is a cascade or two more for long timers.
 *
 * A node armed with expires > cur lives at the level of the highest 6-bit
 * digit in which `expires` and `cur` differ, in the slot named by that digit
 * of `expires`. Hence (1) every node of level L is earlier than every node of
 * level L+1, and (2) inside a level, the occupied slots all come after cur's
 * digit, in order. Each level has a 64-bit occupancy bitmap and one more
 * bitmap says which levels are occupied, so the earliest slot is two
 * count-trailing-zeros away, however far time jumps.
 * A node armed with expires <= cur goes to the `due` list, kept sorted by
 * expires. It only ever holds nodes already due at the last `now` (the
 * expire loop drains it), and arms "at now" append, so it stays short.
 *
 * Expiry (cascading). timer_expire_next(now) takes the earliest slot; if it
 * starts after `now` nothing is due: the cursor moves to `now` and the call
 * returns NULL, without visiting the (possibly billions of) empty
 * microseconds in between. Otherwise the cursor moves to the slot's start and
 * the slot's nodes are re-filed against the new cursor: each lands one or
 * more levels lower, or on the due list when its expires equals the cursor.
 * A level-0 slot holds a single microsecond, so its nodes go to the due list
 * wholesale. A node therefore moves at most (its level) times before it
 * fires: expiry is amortised O(levels) = O(1) per timer, with no sorting.
 *
 * Exactness. Nothing is rounded: a node is returned only when now >= its
 * exact expires, and nodes come out in nondecreasing expires order (ties in
 * any order) because the due list is sorted and everything on it is earlier
 * than everything in the levels.
 *
 * Next deadline. The earliest expiry is the head of the due list, or else
 * the minimum of the earliest slot. A bitmap per level records which slots
 * are sorted (a stream of "now + constant" arms appends in order, and
 * cascading a sorted slot keeps order); a sorted slot's minimum is its head.
 * When the earliest slot is unsorted, timer_next_deadline scans it (O(k)
 * for k nodes); asked again with no out-of-order arm into that slot in
 * between, it sorts it instead, in O(k + m log m) for m nodes out of order,
 * after which the minimum is the head again. The minimum and how many nodes
 * share it are also cached, and arms keep that cache exact, so the usual
 * cost is O(1) and the worst a scan of the earliest slot each time the last
 * timer holding the minimum is cancelled while arms keep landing out of
 * order in that same slot.
 *
 * Sans-I/O: no clocks, no allocation; the wheel is embedded by value (it
 * must not be copied: its lists point into it) and the nodes live inside the
 * caller's structs. Not thread-safe. */
#ifndef SYNACK_TCP_TIMER_WHEEL_H
#define SYNACK_TCP_TIMER_WHEEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tcp/tcp_types.h"

/* Embed in the owning struct; zero-initialised means "not armed". Recover
 * the owner with offsetof (container_of). `expires` is read-only for users;
 * it keeps the last armed time after the node fires or is cancelled. */
struct timer_node {
    struct timer_node *next, *prev;
    tcp_time_t expires;
};

#define TIMER_WHEEL_SLOT_BITS 6
#define TIMER_WHEEL_SLOTS (1u << TIMER_WHEEL_SLOT_BITS)
#define TIMER_WHEEL_LEVELS 11 /* ceil(64 / 6): the whole tcp_time_t range */

/* Internals are public only so the wheel can be embedded by value. */
struct timer_wheel {
    tcp_time_t cur;                 /* cursor: no armed node in the levels is <= cur */
    size_t count;                   /* armed nodes, due list included */
    uint32_t level_map;             /* bit L set iff slot_map[L] != 0 */
    uint64_t slot_map[TIMER_WHEEL_LEVELS];      /* bit S set iff slots[L][S] is not empty */
    uint64_t slot_unsorted[TIMER_WHEEL_LEVELS]; /* bit S clear: slots[L][S] is sorted */
    tcp_time_t level_min;           /* cached minimum over the levels (not due)... */
    size_t level_min_count;         /* ...and how many nodes have it; 0 = unknown */
    uint8_t scanned_level, scanned_slot; /* unsorted slot last scanned for its minimum
                                          * (level TIMER_WHEEL_LEVELS: none) */
    struct timer_node due;          /* sentinel: nodes with expires <= cur, sorted */
    struct timer_node slots[TIMER_WHEEL_LEVELS][TIMER_WHEEL_SLOTS]; /* sentinels */
};

/* Empties the wheel and sets its cursor to `now`. Nodes still armed in a
 * previous use must not be touched afterwards (zero them to reuse). */
void timer_wheel_init(struct timer_wheel *w, tcp_time_t now);

/* Arms `n` to fire at `expires` (exact microseconds); re-arms it if already
 * armed. An `expires` at or before now fires at the next timer_expire_next.
 * O(1). */
void timer_arm(struct timer_wheel *w, struct timer_node *n, tcp_time_t expires);

/* Disarms `n`; a no-op if it is not armed. O(1). */
void timer_cancel(struct timer_wheel *w, struct timer_node *n);

static inline bool timer_armed(const struct timer_node *n)
{
    return n->next != NULL;
}

/* Unlinks and returns one node with expires <= now, the earliest first (ties
 * in any order), or NULL when none is due. The node comes back disarmed; the
 * caller may re-arm it at once. Call in a loop until NULL. `now` should not
 * decrease between calls (if it does, nothing later than it fires). */
struct timer_node *timer_expire_next(struct timer_wheel *w, tcp_time_t now);

/* The exact earliest `expires` of any armed node, or TCP_TIME_NEVER when
 * none is armed. O(1) in the common case, at worst a sort of the earliest
 * slot (see above). Updates an internal cache, hence: never define a
 * timer_wheel object const. */
tcp_time_t timer_next_deadline(const struct timer_wheel *w);

static inline size_t timer_count(const struct timer_wheel *w)
{
    return w->count;
}

#endif
