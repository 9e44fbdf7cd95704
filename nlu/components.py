"""Custom Rasa NLU components for Gongyou, loaded by Rasa as ``nlu.components.<Class>``.

Entities are scored by exact character span (shared/design/nlu.md), so the tokenizer must
put a boundary wherever an entity may begin or end, and the predicted spans must follow
the contract's conventions.

* ``JiebaNumeralTokenizer``: jieba words, except where jieba glues across an entity edge.
* ``EntitySpanRepair``: moves the edges of the entities DIET predicted to the contract's
  conventions and drops what the contract rules out (rules in ``nlu/spans.py``).
"""

from __future__ import annotations

import json
import re
from typing import Any, Dict, List, Optional, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.nlu.tokenizers.jieba_tokenizer import JiebaTokenizer
from rasa.nlu.tokenizers.tokenizer import Token
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from nlu.spans import SpanRepair

_NUMERALS = "0-9０-９〇零一二两三四五六七八九十百千万亿仨俩几"
# A numeral that jieba's HMM glued to a following word that is not a unit or classifier:
# 四千二不给 → 四千 | 二不给 → 二|不给. (六千|八块, 两万出头 stay whole: their edges are right.)
_GLUED = re.compile(
    r"^([" + _NUMERALS + r"]+)([^" + _NUMERALS + r"个块元多余来号名位人年月天日周岁点分角毛倍斤件次把wWkK.．%].*)$"
)
# A preposition / verb that jieba's HMM glued to an unknown name: 在鑫龙 → 在|鑫龙, 叫福 → 叫|福,
# 汉庭当 → 汉庭|当 (the name's edge is an entity edge).
_GLUED_BEFORE = re.compile(r"^([在叫给被跟从到把让和与是去找])(.+)$")
_GLUED_AFTER = re.compile(r"^(.{2,})([当做干后的了在])$")
# A locative glued to a noun that may end an employer name: 张老板的厂里 → 厂|里.
_LOCATIVE = re.compile(r"^([厂店司队场铺坊馆院部])(里|上|内)$")


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER, is_trainable=True)
class JiebaNumeralTokenizer(JiebaTokenizer):
    """jieba words, split where jieba glues across an entity edge.

    Only words jieba invented with its HMM (not in its dictionary) are split, so ordinary
    words (一直, 一共, 厂长) stay whole:
    * a numeral glued to the next word: 二不给 → 二|不给 (四千二 can then be one span);
    * 人 glued to the next character: 九个|人全 → 九个|人|全 (九个人);
    * a preposition or verb glued to an unknown name: 在鑫龙 → 在|鑫龙, 汉庭当 → 汉庭|当;
    * a locative after a workplace noun, even in the dictionary: 厂里 → 厂|里 (张老板的厂).
    """

    def tokenize(self, message: Message, attribute: Text) -> List[Token]:
        import jieba

        text = message.get(attribute)
        tokens: List[Token] = []
        for word, start, _ in jieba.tokenize(text):
            if not word.strip():
                continue
            invented = word not in jieba.dt.FREQ
            glued = _GLUED.match(word) if invented else None
            if not glued and invented and len(word) == 2 and word[0] == "人":
                glued = re.match(r"^(人)(.)$", word)
            if not glued and invented:
                glued = _GLUED_BEFORE.match(word) or _GLUED_AFTER.match(word)
            if not glued:
                glued = _LOCATIVE.match(word)
            if glued:
                tokens.append(Token(glued.group(1), start))
                tokens.append(Token(glued.group(2), start + glued.end(1)))
            else:
                tokens.append(Token(word, start))
        return tokens


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=True)
class EntitySpanRepair(GraphComponent, EntityExtractorMixin):
    """Moves the edges of predicted entities to the contract's span conventions (nlu/spans.py).

    Runs after DIETClassifier: it never adds an entity, only widens / narrows / merges /
    drops the ones predicted, and lists itself in each changed entity's ``processors``
    (as EntitySynonymMapper does). The names it needs (places, known employers) come from
    the ``hometown`` / ``location`` / ``employer`` lookup tables and annotations and are
    stored with the model.
    """

    FILE = "names.json"

    def __init__(self, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
                 places: Optional[Dict[str, List[str]]] = None) -> None:
        self._config = config
        self._model_storage = model_storage
        self._resource = resource
        self.places = places or {"hometown": [], "location": [], "employer": []}
        self.repairer = self._repairer(self.places)

    @staticmethod
    def _repairer(names: Dict[str, List[str]]) -> SpanRepair:
        return SpanRepair(names.get("hometown", []) + names.get("location", []), names.get("hometown", []),
                          names.get("employer", []))

    @classmethod
    def create(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> "EntitySpanRepair":
        return cls(config, model_storage, resource)

    def train(self, training_data: TrainingData) -> Resource:
        places: Dict[str, set] = {"hometown": set(), "location": set(), "employer": set()}
        for table in training_data.lookup_tables:
            if table.get("name") in places and isinstance(table.get("elements"), list):
                places[table["name"]].update(str(x).strip() for x in table["elements"])
        for example in training_data.entity_examples:
            for entity in example.get(ENTITIES, []):
                if entity.get("entity") in places:
                    places[entity["entity"]].add(example.get(TEXT)[entity["start"]:entity["end"]])
        self.places = {k: sorted(p for p in v if len(p) >= 2) for k, v in places.items()}
        self.repairer = self._repairer(self.places)
        with self._model_storage.write_to(self._resource) as directory:
            (directory / self.FILE).write_text(json.dumps(self.places, ensure_ascii=False), encoding="utf-8")
        return self._resource

    @classmethod
    def load(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> "EntitySpanRepair":
        places: Optional[Dict[str, List[str]]] = None
        try:
            with model_storage.read_from(resource) as directory:
                places = json.loads((directory / cls.FILE).read_text(encoding="utf-8"))
        except (ValueError, FileNotFoundError):
            pass
        return cls(config, model_storage, resource, places)

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            entities = message.get(ENTITIES, [])
            if not entities or not message.get(TEXT):
                continue
            repaired = self.repairer.repair(message.get(TEXT), entities)
            for entity in repaired:
                if entity.get("_changed"):
                    entity.pop("_changed")
                    self.add_processor_name(entity)
            message.set(ENTITIES, repaired, add_to_output=True)
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data
