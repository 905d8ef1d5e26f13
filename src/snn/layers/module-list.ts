/** An ordered list of child modules named `0`, `1`, ... (PyTorch's nn.ModuleList). */
import { Module } from '../module';

export class ModuleList<M extends Module> extends Module {
  readonly items: readonly M[];

  constructor(items: M[]) {
    super();
    items.forEach((m, i) => this.addModule(String(i), m));
    this.items = items.slice();
  }

  get length(): number {
    return this.items.length;
  }
}
