/* Front selection from search/front.json and the standalone model of one arch (see extract.h).
 * Front points are taken as the search wrote them; each arch's text form is parsed again, so a
 * hand-edited file with a bad arch is refused with the point named. */
#include "extract.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int point_load(json_t *p, int i, FrontPoint *out, const char *path, MosErr *err)
{
    const char *text = json_string_value(json_object_get(p, "arch"));
    json_t *lat = json_object_get(p, "pred_latency_ms"), *loss = json_object_get(p, "valid_loss");
    if (!text || !json_is_number(lat) || !json_is_number(loss))
        return err_set(err, "%s: front[%d]: needs arch, pred_latency_ms and valid_loss", path, i);
    if (arch_parse(text, &out->arch, err) < 0) {
        err_prefix(err, "%s: front[%d]", path, i);
        return -1;
    }
    out->index = (int)json_integer_value(json_object_get(p, "index"));
    out->pred_ms = json_number_value(lat);
    out->valid_loss = json_number_value(loss);
    return 0;
}

FrontPoint *extract_front_load(const char *search_dir, int *n, MosErr *err)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/front.json", search_dir);
    json_error_t je;
    json_t *o = json_load_file(path, 0, &je);
    if (!o) {
        if (access(path, F_OK) != 0)
            err_set(err, "%s: missing (run `mos search` first)", path);
        else
            err_set(err, "%s:%d: %s", path, je.line, je.text);
        return NULL;
    }
    json_t *front = json_object_get(o, "front");
    size_t np = json_array_size(front);
    FrontPoint *pts = np ? calloc(np, sizeof *pts) : NULL;
    if (!json_is_array(front) || np == 0) {
        err_set(err, "%s: the front is empty", path);
    } else {
        ASSERT(pts);
        for (size_t i = 0; i < np; i++)
            if (point_load(json_array_get(front, i), (int)i, &pts[i], path, err) < 0) {
                free(pts);
                pts = NULL;
                break;
            }
    }
    json_decref(o);
    *n = pts ? (int)np : 0;
    return pts;
}

int extract_pick_front(const char *search_dir, int k, FrontPoint *out, MosErr *err)
{
    int n;
    FrontPoint *pts = extract_front_load(search_dir, &n, err);
    if (!pts)
        return -1;
    int rc = 0;
    if (k < 0 || k >= n)
        rc = err_set(err, "--front %d: the front in %s/front.json has %d points (0 .. %d, by "
                          "latency)", k, search_dir, n, n - 1);
    else
        *out = pts[k];
    free(pts);
    return rc;
}

int extract_pick_latency(const char *search_dir, double max_ms, FrontPoint *out, MosErr *err)
{
    int n;
    FrontPoint *pts = extract_front_load(search_dir, &n, err);
    if (!pts)
        return -1;
    int best = -1, fastest = 0;
    for (int i = 0; i < n; i++) {
        if (pts[i].pred_ms < pts[fastest].pred_ms)
            fastest = i;
        if (pts[i].pred_ms > max_ms)
            continue;
        if (best < 0 || pts[i].valid_loss < pts[best].valid_loss ||
            (pts[i].valid_loss == pts[best].valid_loss && pts[i].pred_ms < pts[best].pred_ms))
            best = i;
    }
    int rc = 0;
    if (best < 0)
        rc = err_set(err, "--latency-ms %g: no front point is that fast (the fastest is "
                          "predicted at %.3g ms)", max_ms, pts[fastest].pred_ms);
    else
        *out = pts[best];
    free(pts);
    return rc;
}

Supernet *extract_model(Supernet *s, const Arch *a, int max_tokens, MosErr *err)
{
    const ModelConfig *c = supernet_config(s);
    if (c->mos == MOS_NONE)
        return modelfile_build(s, a, max_tokens, err);
    if (arch_validate(&c->space, a, err) < 0) {
        err_prefix(err, "extract: arch not in the supernet's space");
        return NULL;
    }
    /* W(a) = sum_i alpha_i(a) E_i into a plain supernet of the same maxima, then cut it. */
    ModelConfig pc = *c;
    pc.mos = MOS_NONE;
    pc.mos_experts = 1;
    Supernet *plain = supernet_new(&pc, 1, 1, err), *m = NULL;
    if (plain && supernet_collapse(s, a, plain, err) == 0)
        m = modelfile_build(plain, a, max_tokens, err);
    supernet_destroy(&plain);
    return m;
}
