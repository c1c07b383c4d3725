// Query limits every shopgraph subgraph enforces (the free router cannot): selection depth
// (GRAPHQL_MAX_DEPTH) and aliases (GRAPHQL_MAX_ALIASES) as validation rules; the token cap
// (GRAPHQL_MAX_TOKENS) is graphql-js's own parse option.

import {
  GraphQLError,
  Kind,
  type ASTVisitor,
  type FragmentDefinitionNode,
  type SelectionSetNode,
  type ValidationContext,
  type ValidationRule,
} from "graphql";

/** Fields nested deeper than `maxDepth` (root fields at depth 0; introspection left out). */
export function depthLimit(maxDepth: number): ValidationRule {
  return (context: ValidationContext): ASTVisitor => {
    const fragments = new Map<string, FragmentDefinitionNode>();
    for (const definition of context.getDocument().definitions) {
      if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
    }
    const deepest = (selectionSet: SelectionSetNode, depth: number, seen: Set<string>): number => {
      let max = depth;
      for (const selection of selectionSet.selections) {
        if (selection.kind === Kind.FIELD) {
          if (selection.name.value.startsWith("__") || selection.selectionSet === undefined) continue;
          max = Math.max(max, deepest(selection.selectionSet, depth + 1, seen));
        } else if (selection.kind === Kind.INLINE_FRAGMENT) {
          max = Math.max(max, deepest(selection.selectionSet, depth, seen));
        } else {
          const fragment = fragments.get(selection.name.value);
          if (fragment === undefined || seen.has(fragment.name.value)) continue;
          max = Math.max(max, deepest(fragment.selectionSet, depth, new Set([...seen, fragment.name.value])));
        }
      }
      return max;
    };
    return {
      OperationDefinition(operation) {
        const depth = deepest(operation.selectionSet, 0, new Set());
        if (depth > maxDepth) {
          const name = operation.name?.value ?? "anonymous";
          context.reportError(new GraphQLError(`'${name}' exceeds maximum operation depth of ${maxDepth}`, { nodes: operation }));
        }
      },
    };
  };
}

/** More than `maxAliases` aliases in the whole document. */
export function aliasLimit(maxAliases: number): ValidationRule {
  return (context: ValidationContext): ASTVisitor => {
    let aliases = 0;
    return {
      Field(field) {
        if (field.alias !== undefined) aliases += 1;
      },
      Document: {
        leave() {
          if (aliases > maxAliases) context.reportError(new GraphQLError(`${aliases} aliases found. Allowed: ${maxAliases}`));
        },
      },
    };
  };
}
