/* Private to modelfile*.c: the pieces shared by the weights file (modelfile.c) and config.json
 * (modelfile_json.c). */
#ifndef MOS_MODELFILE_IMPL_H
#define MOS_MODELFILE_IMPL_H

#include "modelfile.h"

/* The space that holds exactly arch a (modelfile_config's). */
void modelfile_space(const Arch *a, int qkv_dim, SearchSpace *s);

/* A parameter tensor's shape in the file: its standalone shape, a layer's FFN cut to its dim. */
void modelfile_file_shape(const NamedTensor *t, const Arch *a, int *rows, int *cols);

/* model.safetensors of standalone model m for arch a: write (fsynced) / read and check. */
int modelfile_write_weights(const char *path, Supernet *m, const Arch *a, MosErr *err);
int modelfile_read_weights(const char *path, Supernet *m, const Arch *a, MosErr *err);

#endif
